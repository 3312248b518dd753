// How a fresh machine comes to exist for a recovery, a drill or a stage, and goes away after. Every provider
// passes test/provider/conformance.ts, which checks each point of this contract against the real thing.
import type { Transport } from "../transport/types.js";
import type { IsolationRules } from "./isolation.js";

export interface ProvisionRequest {
  /** The machine's name: the production name for a recovery, `<host>-drill-<id>`, `<host>-stage-<id>`. */
  name: string;
  /** The host's name in Lifeboat (the policy's host). */
  host: string;
  runId: string;
  /** A drill's and a stage's machine is isolated: its own network, no published ports. */
  mode: "recovery" | "drill" | "stage";
  /** Aborting it stops the provisioning: whatever was made so far is removed, and create rejects. */
  signal?: AbortSignal | undefined;
  /**
   * A drill's or stage's network isolation: what its machine may reach. A provider that can enforce it (container)
   * must, or fail (ISOLATION_UNAVAILABLE); one that cannot (the user's own machines) returns no `isolation`.
   */
  isolation?: IsolationRules | undefined;
  /** Start from this baked image (BakedImage.ref) instead of the runbook's: its steps up to `restore` are done. */
  image?: string | undefined;
}

/** A machine saved after its runbook's steps up to `restore`, tagged with the digest of what made it. */
export interface BakedImage {
  host: string;
  /** bakeDigest() of the runbook (and base image) that made it. */
  digest: string;
  /** What the provider starts it from: an image reference (container), a disk's path (vm). */
  ref: string;
  createdAt: string;
  /** Its size where the provider can tell. */
  bytes?: number | undefined;
}

export interface ProvisionedHost {
  /** The machine's name as the provider knows it (for the ssh provider: the destination it was given). */
  name: string;
  /** A root (or the provider's login user) transport to the new machine; it works when create resolves. */
  transport: Transport;
  /** How other machines (and checks) reach it; never empty. */
  address: string;
  /**
   * Removes everything the provider made for it (machine, network, volumes). Idempotent: a second call, or a
   * call after the machine went away by other means, resolves. It rejects only when something it made is still
   * there afterwards. A machine the provider did not make (ssh) is left as it is.
   */
  destroy(): Promise<void>;
  /** What a person runs to remove it by hand (a drill kept with --keep, a failed destroy). */
  removeHint: string;
  /** Inventory variables through which Ansible reaches the machine (connection plugin, address, user, key). */
  ansibleVars: Record<string, string>;
  /**
   * Saves the machine as it is now as an image for `host` and `digest`, for later machines to start from, and
   * removes the host's older baked images. The machine may be left stopped: destroy it next. Only providers that
   * bake have it.
   */
  saveImage?(host: string, digest: string): Promise<BakedImage>;
  /** Set when the provider enforces the request's isolation: what it does, and the steps' allowance. */
  isolation?:
    | {
        detail: string;
        /** While steps run, what the runbook allows is reachable too; closed before the restore and the checks. */
        openSteps(): Promise<void>;
        closeSteps(): Promise<void>;
      }
    | undefined;
}

/** A machine someone asks a provider to remove: a name and run read from the catalog are only a claim. */
export interface MachineClaim {
  name: string;
  address: string | undefined;
  mode: ProvisionRequest["mode"];
  /** The run that made it (its isolation is found by it). */
  runId?: string | undefined;
}

export interface Provider {
  readonly kind: "container" | "ssh" | "command" | "vm";
  /** For a plan: "container web1 from debian:bookworm (podman)"; names the machine or where it is. */
  describe(name: string): string;
  /**
   * Whether a machine of this name exists now: true or false when the provider can know (container), "unknown"
   * when it cannot (ssh: the machine is the user's; command: only the user's commands know). A recovery refuses
   * to run over one that exists (HOST_EXISTS) unless told to set it aside; over "unknown" it goes ahead, since the
   * machine it makes (command) or is given (ssh) is a new one by the runbook's own definition, and --replace is
   * refused (nothing can be set aside).
   */
  exists(name: string): Promise<boolean | "unknown">;
  /**
   * Moves an existing machine out of the way, stopped but kept (nothing is lost), and returns its new name.
   * Only providers whose `exists` can be true have it.
   */
  setAside?(name: string): Promise<string>;
  /** How its machines run, when that matters to the plan ("KVM", or software emulation and why). */
  runsOn?(): Promise<string>;
  /** The images baked for a host (any digest), newest first; only providers that bake have it. */
  bakedImages?(host: string): Promise<BakedImage[]>;
  /** What the base of its machines is now (an image id, a disk's size and time): part of a baked image's digest. */
  baseIdentity?(): Promise<string>;
  /** Makes the machine and a working transport to it; on failure, nothing it made is left behind. */
  create(request: ProvisionRequest): Promise<ProvisionedHost>;
  /**
   * Removes a machine this provider made earlier, in another run (an expired stage), by its name and address.
   * Idempotent like destroy: a machine that is gone already is not an error.
   */
  remove(machine: MachineClaim): Promise<void>;
}
