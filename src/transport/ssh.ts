// The ssh transport: the system's OpenSSH client, so ~/.ssh/config, known_hosts, agents and jump hosts work
// as they do for the user. Host key checking is never turned off (BatchMode makes an unknown key an error).
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import type { SshLogin } from "../policy/load.js";
import { onlyEnv } from "../util/child-env.js";
import { type ClientCommand, CommandTransport, WATCHED_EXEC } from "./command.js";

/** What `ssh` is given (destination: user@address, or an alias from ~/.ssh/config), and how far to trust it. */
export interface SshTarget extends SshLogin {
  /** Trust a host key seen for the first time (and only then): for a machine this run has just created. */
  acceptNewHostKey?: boolean | undefined;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

// Runs first on the host: reads "N\n" and N lines of KEY=base64(value) from stdin and exports them; the command
// then has the rest of stdin. sh's `read` takes one byte at a time from a pipe, so nothing more is consumed.
// (Command substitution drops trailing newlines from a value.)
const READ_ENV =
  'read -r n || exit 125; i=0; while [ "$i" -lt "$n" ]; do IFS= read -r kv || exit 125; ' +
  'export "${kv%%=*}=$(printf %s "${kv#*=}" | base64 -d)"; i=$((i+1)); done; ';

export class SshTransport extends CommandTransport {
  readonly kind = "ssh" as const;
  constructor(
    readonly host: string,
    private readonly target: SshTarget,
  ) {
    super();
  }

  private sshArgs(): string[] {
    // A dead connection is noticed after two minutes of silence: a pause of the network shorter than that (seen on
    // podman bridges under load) must not fail an hour-long backup.
    const args = [
      "-T",
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=10",
      "-o",
      "ServerAliveInterval=15",
      "-o",
      "ServerAliveCountMax=8",
    ];
    if (this.target.port) args.push("-p", String(this.target.port));
    if (this.target.identityFile) args.push("-i", this.target.identityFile, "-o", "IdentitiesOnly=yes");
    if (this.target.knownHostsFile) args.push("-o", `UserKnownHostsFile=${this.target.knownHostsFile}`);
    if (this.target.acceptNewHostKey) args.push("-o", "StrictHostKeyChecking=accept-new");
    return args;
  }

  protected clientCommand(argv: string[], env: Record<string, string>, watched: boolean): ClientCommand {
    const vars = Object.entries(env);
    for (const [k] of vars) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        throw new LifeboatError("INTERNAL", `invalid environment variable name ${k}`);
    }
    const header = `${vars.length}\n${vars.map(([k, v]) => `${k}=${Buffer.from(v).toString("base64")}\n`).join("")}`;
    const script = READ_ENV + (watched ? WATCHED_EXEC : 'exec "$@"');
    const remote = `sh -c ${quote(script)} lifeboat ${argv.map(quote).join(" ")}`;
    return {
      file: "ssh",
      args: [...this.sshArgs(), this.target.destination, remote],
      prefix: Buffer.from(header),
    };
  }

  protected clientFailure(exitCode: number, stderr: string): LifeboatError | undefined {
    // 255 is ssh's own failure: the connection, authentication or the host key.
    if (exitCode !== 255) return undefined;
    const why = stderr.trim().split("\n").filter(Boolean).at(-1) ?? "ssh failed";
    return new LifeboatError(
      "HOST_UNREACHABLE",
      `cannot reach ${this.host} over ssh (${this.target.destination}): ${why}`,
      {
        hint:
          "Check the address and that sshd runs there; that your key is accepted; and, for a new host, verify its " +
          "key and add it to known_hosts (host key checking stays on).",
      },
    );
  }

  /** The address ssh really connects to, after ~/.ssh/config (aliases, HostName). */
  async address(): Promise<string> {
    const r = await execa("ssh", ["-G", ...this.sshArgs(), this.target.destination], {
      reject: false,
      ...onlyEnv(),
    });
    const line = String(r.stdout)
      .split("\n")
      .find((l) => l.startsWith("hostname "));
    return line?.slice("hostname ".length).trim() || this.target.destination.replace(/^.*@/, "");
  }
}
