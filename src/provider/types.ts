// How a fresh machine comes to exist for a recovery or a drill, and goes away after a drill.
import type { Transport } from "../transport/types.js";

export interface ProvisionRequest {
  /** The machine's name: the production name for a recovery, `<host>-drill-<id>` for a drill. */
  name: string;
  /** The host's name in Lifeboat (the policy's host). */
  host: string;
  runId: string;
  mode: "recovery" | "drill";
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
}
