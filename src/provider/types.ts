// How a fresh machine comes to exist for a recovery or a drill, and goes away after a drill.
import type { Transport } from "../transport/types.js";

export interface ProvisionRequest {
  /** The machine's name: the production name for a recovery, `<host>-drill-<id>`, `<host>-stage-<id>`. */
  name: string;
  /** The host's name in Lifeboat (the policy's host). */
  host: string;
  runId: string;
  /** A drill's and a stage's machine is isolated: its own network, no published ports. */
  mode: "recovery" | "drill" | "stage";
  signal?: AbortSignal | undefined;
}

export interface ProvisionedHost {
  name: string;
  /** A root (or the provider's login user) transport to the new machine. */
  transport: Transport;
  /** How other machines (and checks) reach it. */
  address: string;
  /** Removes everything the provider made for it (machine, network, volumes); safe to call twice. */
  destroy(): Promise<void>;
  /** What a person runs to remove it by hand (a drill kept with --keep). */
  removeHint: string;
  /** Inventory variables through which Ansible reaches the machine (connection plugin, address, user, key). */
  ansibleVars: Record<string, string>;
}

export interface Provider {
  readonly kind: "container" | "ssh" | "command";
  /** "container web1 from debian:bookworm (podman)". */
  describe(name: string): string;
  /** Whether a machine of this name exists now (a recovery over it needs --replace). */
  exists(name: string): Promise<boolean>;
  /** Moves an existing machine out of the way, stopped but kept (nothing is lost); returns its new name. */
  setAside(name: string): Promise<string>;
  create(request: ProvisionRequest): Promise<ProvisionedHost>;
  /**
   * Removes a machine this provider made earlier, in another run (an expired stage), by what the catalog kept
   * of it; nothing that is gone already is an error.
   */
  remove(machine: {
    name: string;
    address: string | undefined;
    mode: ProvisionRequest["mode"];
  }): Promise<void>;
}
