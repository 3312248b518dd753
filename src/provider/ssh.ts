// The ssh provider: a fresh machine the user has prepared (a spare server, a VM from a console). Lifeboat
// configures and checks it, but neither creates nor destroys it.
import { LifeboatError } from "../errors.js";
import type { ProviderSpec } from "../runbook/load.js";
import { type SshTarget, SshTransport } from "../transport/ssh.js";
import type { Provider, ProvisionedHost, ProvisionRequest } from "./types.js";

type SshSpec = Extract<ProviderSpec, { kind: "ssh" }>;

export class SshProvider implements Provider {
  readonly kind = "ssh" as const;
  constructor(private readonly spec: SshSpec) {}

  describe(): string {
    return `the machine at ${this.spec.destination} (ssh)`;
  }

  async exists(): Promise<"unknown"> {
    // The machine is the user's; whether it is "the old host" is theirs to say.
    return "unknown";
  }

  async create(request: ProvisionRequest): Promise<ProvisionedHost> {
    const transport = new SshTransport(request.host, this.spec);
    const r = await transport.run(["true"], { timeoutMs: 60_000, signal: request.signal });
    if (r.exitCode !== 0) {
      throw new LifeboatError(
        "PROVISION_FAILED",
        `the machine at ${this.spec.destination} does not run commands`,
        {
          hint: "Check that its login shell works for the runbook's user.",
        },
      );
    }
    return {
      name: this.spec.destination,
      transport,
      address: await transport.address(),
      // Not ours to destroy: a person resets or removes the machine.
      destroy: async () => {},
      removeHint: `reset or remove the machine at ${this.spec.destination} yourself (Lifeboat did not create it)`,
      ansibleVars: sshAnsibleVars(this.spec),
    };
  }

  // The user's machine: nothing of it is Lifeboat's to remove.
  async remove(): Promise<void> {}
}

/** How Ansible's ssh connection reaches the same machine with the same settings (host key checking on). */
export function sshAnsibleVars(target: SshTarget): Record<string, string> {
  const at = target.destination.lastIndexOf("@");
  const vars: Record<string, string> = {
    ansible_connection: "ssh",
    ansible_host: at >= 0 ? target.destination.slice(at + 1) : target.destination,
  };
  if (at >= 0) vars.ansible_user = target.destination.slice(0, at);
  if (target.port) vars.ansible_port = String(target.port);
  if (target.identityFile) vars.ansible_ssh_private_key_file = target.identityFile;
  const opts = ["-o BatchMode=yes"];
  if (target.knownHostsFile) opts.push(`-o UserKnownHostsFile=${target.knownHostsFile}`);
  if (target.acceptNewHostKey) opts.push("-o StrictHostKeyChecking=accept-new");
  vars.ansible_ssh_common_args = opts.join(" ");
  return vars;
}
