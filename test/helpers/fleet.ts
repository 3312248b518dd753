// The test fleet: container hosts from a Debian bookworm base image built from Debian packages
// (scripts/base-image.sh's debootstrap minbase, plus restic and openssh-server by apt), run with the runc runtime and
// explicit ulimits (DESIGN.md). An SSH host is such a container running sshd with its own host key.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { ContainerTransport } from "../../src/transport/container.js";
import { outputTail, waitUntilReady } from "./ready.js";
import { accepts } from "./sshd.js";

// Bookworm's restic is 0.14, older than Lifeboat needs: hosts made from this image exercise the copy of
// Lifeboat's own restic. Bump the version when the package list changes, so caches rebuild.
const PACKAGES = ["restic", "openssh-server"];
const IMAGE_VERSION = 3;
export const BASE_IMAGE = `lifeboat-test-base:bookworm-${IMAGE_VERSION}`;
/** The one debootstrapped image (scripts/base-image.sh, also the demo's and the controller image's base). */
export const MINBASE_IMAGE = "localhost/lifeboat-base:bookworm";
const BASE_IMAGE_SCRIPT = path.resolve(import.meta.dirname, "../../scripts/base-image.sh");
const RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

async function requireTools(): Promise<void> {
  for (const tool of ["podman", "debootstrap"]) {
    const found = await execa("sh", ["-c", `command -v ${tool}`], { reject: false });
    if (found.exitCode !== 0) {
      // A missing dependency fails the tests, never skips them.
      throw new Error(
        `${tool} is not installed: the container tests need it. Run scripts/test.sh (it installs podman, runc, debootstrap).`,
      );
    }
  }
}

/** The debootstrapped minbase image (built once by scripts/base-image.sh; its tarball is cached). */
export async function ensureMinbaseImage(): Promise<void> {
  await requireTools();
  await execa(BASE_IMAGE_SCRIPT, [], { stdio: "inherit" });
}

/** The fleet's base: minbase plus restic 0.14 and openssh-server, without ssh host keys (each host makes its own). */
export async function ensureBaseImage(): Promise<void> {
  await ensureMinbaseImage();
  await ensureImageWith(MINBASE_IMAGE, BASE_IMAGE, PACKAGES, "rm -f /etc/ssh/ssh_host_*");
}

// Services for the database and recovery tests (database servers, nginx), added to the base image with apt
// inside a container (the Debian mirror is reachable through podman's NAT) and committed as an image of its own.
const DB_PACKAGES = ["postgresql", "mariadb-server", "sqlite3", "nginx", "redis-server"];
export const DB_IMAGE = `lifeboat-test-db:bookworm-5`;
/** podman run options this machine needs (DESIGN.md): also in the example runbooks. */
export const RUN_OPTIONS = RUN_FLAGS;

/** A test runbook for `host` whose machines are containers of the services image; `body` is steps and checks. */
export const containerRunbook = (host: string, body: string): string => `host: ${host}
provider:
  container:
    image: localhost/${DB_IMAGE}
    runOptions: ${JSON.stringify(RUN_FLAGS)}
${body}`;

export async function ensureDbImage(): Promise<void> {
  await ensureBaseImage();
  await ensureImageWith(BASE_IMAGE, DB_IMAGE, DB_PACKAGES);
}

/** The services image plus Debian's rpm tools (rpm, rpmbuild): a host with an rpm database beside dpkg's. */
export const RPM_IMAGE = "lifeboat-test-rpm:bookworm-2";

export async function ensureRpmImage(): Promise<void> {
  await ensureDbImage();
  await ensureImageWith(DB_IMAGE, RPM_IMAGE, ["rpm"]);
}

/** `image`: `from` with Debian packages added by apt inside a container (then `after`), committed once. */
async function ensureImageWith(
  from: string,
  image: string,
  packages: readonly string[],
  after = "true",
): Promise<void> {
  if ((await execa("podman", ["image", "exists", image], { reject: false })).exitCode === 0) return;
  const builder = `lifeboat-image-${process.pid}-${image.replace(/\W/g, "-")}`;
  await execa("podman", ["rm", "-f", "--time", "0", builder], { reject: false });
  try {
    await execa("podman", [
      "run",
      "--name",
      builder,
      ...RUN_FLAGS,
      from,
      "sh",
      "-c",
      `apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${packages.join(" ")} && apt-get clean && ${after}`,
    ]);
    await execa("podman", ["commit", "-q", builder, image]);
  } finally {
    await execa("podman", ["rm", "-f", "--time", "0", builder], { reject: false });
  }
}

/**
 * Keeps podman's default bridge up for the whole run, with a MAC address of its own. A Linux bridge whose MAC was
 * never set takes the lowest MAC among its ports, so removing or adding any container could change it; every other
 * container then sent to the old MAC until its ARP entry expired, and its connections (restic to S3, ssh) stalled
 * for ~40 s (measured: a client in one container hung while others were created and removed; with the MAC set,
 * 150 of 150 requests answered within 17 ms). Returns how to remove the anchor container.
 */
export async function pinDefaultBridge(): Promise<() => Promise<void>> {
  await ensureBaseImage();
  const name = `lifeboat-test-bridge-${process.pid}`;
  await execa("podman", ["run", "-d", "--name", name, ...RUN_FLAGS, BASE_IMAGE, "sleep", "infinity"]);
  const bridge = (
    await execa("podman", ["network", "inspect", "podman", "--format", "{{.NetworkInterface}}"])
  ).stdout.trim();
  const mac = (await readFile(`/sys/class/net/${bridge}/address`, "utf8")).trim();
  // Setting it, even to the same value, makes the kernel keep it (addr_assign_type NET_ADDR_SET).
  await execa("ip", ["link", "set", "dev", bridge, "address", mac]);
  return async () => {
    await execa("podman", ["rm", "-f", "--time", "0", name], { reject: false });
  };
}

export interface ContainerHost {
  name: string;
  /** A transport to the container as root, for setting up test data. */
  root: ContainerTransport;
  address(): Promise<string>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export async function startContainerHost(
  name: string,
  image = BASE_IMAGE,
  runArgs: readonly string[] = [],
): Promise<ContainerHost> {
  await (image === RPM_IMAGE ? ensureRpmImage() : image === DB_IMAGE ? ensureDbImage() : ensureBaseImage());
  await execa("podman", ["rm", "-f", "--time", "0", name], { reject: false });
  await execa("podman", [
    "run",
    "-d",
    "--name",
    name,
    "--hostname",
    name,
    ...RUN_FLAGS,
    ...runArgs,
    image,
    "sleep",
    "infinity",
  ]);
  const root = new ContainerTransport(name, name, "podman");
  return {
    name,
    root,
    address: () => root.address(),
    stop: async () => {
      await execa("podman", ["stop", "-t", "0", name], { reject: false });
    },
    remove: async () => {
      await execa("podman", ["rm", "-f", "--time", "0", name], { reject: false });
    },
  };
}

export interface SshHost extends ContainerHost {
  /** user@address for ssh. */
  destination: string;
  identityFile: string;
  knownHostsFile: string;
}

/**
 * A container running sshd, with a fresh host key (in a known_hosts file of its own) and a client key pair
 * that `user` accepts; a user other than root is created with a home directory.
 */
export async function startSshHost(name: string, user = "root"): Promise<SshHost> {
  const host = await startContainerHost(name);
  const { root } = host;
  const dir = await mkdtemp(path.join(tmpdir(), `lifeboat-${name}-`));
  const identityFile = path.join(dir, "id_ed25519");
  await execa("ssh-keygen", [
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    `lifeboat-test@${name}`,
    "-f",
    identityFile,
  ]);
  const home = user === "root" ? "/root" : `/home/${user}`;
  if (user !== "root") await must(root, ["useradd", "-m", "-s", "/bin/sh", user]);
  await must(root, ["mkdir", "-p", "-m", "700", `${home}/.ssh`, "/run/sshd"]);
  await root.writeFile(`${home}/.ssh/authorized_keys`, await readFile(`${identityFile}.pub`), 0o600);
  await must(root, ["chown", "-R", `${user}:`, `${home}/.ssh`]);
  await must(root, ["ssh-keygen", "-q", "-A"]);
  const address = await host.address();
  // Attached, so that its exit and its own words reach us; it lives as long as the container.
  await startInContainer(name, `sshd on ${name} (${address}:22)`, () => accepts(22, address), [
    "/usr/sbin/sshd",
    "-D",
    "-e",
    "-o",
    "PasswordAuthentication=no",
  ]);
  const hostKey = (await root.readFile("/etc/ssh/ssh_host_ed25519_key.pub")).toString().trim();
  const knownHostsFile = path.join(dir, "known_hosts");
  await writeFile(knownHostsFile, `${address} ${hostKey.split(" ").slice(0, 2).join(" ")}\n`);
  return { ...host, destination: `${user}@${address}`, identityFile, knownHostsFile };
}

async function must(t: ContainerTransport, argv: string[]): Promise<string> {
  const r = await t.run(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed on ${t.host}: ${r.stderr}`);
  return r.stdout;
}

/** Runs a shell script on a test host (test setup and checks); its stdout, or an error with its stderr. */
export function sh(t: ContainerTransport, script: string): Promise<string> {
  return must(t, ["sh", "-c", script]);
}

/** A psql command line for `sh`: one statement as the postgres user, unaligned output, stop on error. */
export const psql = (db: string, sql: string): string =>
  `runuser -u postgres -- psql -v ON_ERROR_STOP=1 -Atq -d ${db} -c "${sql}"`;

/**
 * Runs a server in a container as an attached `podman exec` (it ends with the container) and waits until
 * `probe` answers; a server that exits or is not ready in time fails with its own output.
 */
async function startInContainer(
  name: string,
  what: string,
  probe: () => Promise<boolean>,
  argv: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const child = execa("podman", ["exec", name, ...argv], { reject: false, stdin: "ignore", buffer: false });
  await waitUntilReady({
    what,
    probe,
    exited: child,
    output: outputTail([child.stdout, child.stderr]),
    timeoutMs,
    intervalMs: 100,
    stop: () => child.kill("SIGKILL"),
  });
}

/** A container host running PostgreSQL 15 (socket, peer auth for `postgres`) and MariaDB (socket, root). */
export async function startDbHost(name: string, runArgs: readonly string[] = []): Promise<ContainerHost> {
  const host = await startContainerHost(name, DB_IMAGE, runArgs);
  await must(host.root, ["pg_ctlcluster", "15", "main", "start"]);
  // mariadbd itself rather than mysqld_safe: its errors go to stderr (mysqld_safe sends them to syslog).
  await must(host.root, ["install", "-d", "-o", "mysql", "-g", "mysql", "/run/mysqld"]);
  await startInContainer(
    name,
    `MariaDB on ${name}`,
    async () => (await host.root.run(["mysqladmin", "ping"])).exitCode === 0,
    ["mariadbd", "--user=mysql"],
  );
  return host;
}
