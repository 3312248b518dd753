// A real sshd on loopback, as root, with its own host key, a client key and a known_hosts entry: a test
// peer for the ssh transport until the container fleet brings SSH hosts of its own.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { outputTail, waitUntilReady } from "./ready.js";

export interface TestSshd {
  port: number;
  identityFile: string;
  knownHostsFile: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true when something accepts a TCP connection at host:port. */
export function accepts(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

/** sshd's privilege separation directory: its service creates it at start, and apt starts no service here. */
export const PRIVSEP_DIR = "/run/sshd";

export async function startSshd(options: { extraConfig?: string[] } = {}): Promise<TestSshd> {
  if (!existsSync("/usr/sbin/sshd")) {
    // A missing dependency fails the tests, never skips them.
    throw new Error(
      "sshd is not installed: the ssh transport tests need it. Run scripts/test.sh (it installs openssh-server).",
    );
  }
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(path.join(tmpdir(), "lifeboat-sshd-"));
  const hostKey = path.join(dir, "host_ed25519");
  const identityFile = path.join(dir, "client_ed25519");
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", identityFile]);
  await writeFile(path.join(dir, "authorized_keys"), await readFile(`${identityFile}.pub`));
  const port = await freePort();
  const hostPub = (await readFile(`${hostKey}.pub`, "utf8")).trim().split(" ").slice(0, 2).join(" ");
  const knownHostsFile = path.join(dir, "known_hosts");
  await writeFile(knownHostsFile, `[127.0.0.1]:${port} ${hostPub}\n`);
  const config = path.join(dir, "sshd_config");
  await writeFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "LogLevel ERROR",
      ...(options.extraConfig ?? []),
      "",
    ].join("\n"),
  );
  const child: ResultPromise = execa("/usr/sbin/sshd", ["-D", "-e", "-f", config], {
    reject: false,
    stdin: "ignore",
    buffer: false,
  });
  await waitUntilReady({
    what: `sshd on 127.0.0.1:${port}`,
    probe: () => accepts(port),
    exited: child,
    output: outputTail([child.stdout, child.stderr]),
    timeoutMs: 10_000,
    stop: () => child.kill("SIGKILL"),
  });
  return {
    port,
    identityFile,
    knownHostsFile,
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
  };
}
