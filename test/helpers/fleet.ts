// The test fleet: container hosts from a Debian bookworm base image built from Debian packages
// (debootstrap minbase with restic and openssh-server), imported into podman with the runc runtime and explicit
// ulimits (DESIGN.md). An SSH host is such a container running sshd with its own host key.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { ContainerTransport } from "../../src/transport/container.js";

// Bookworm's restic is 0.14, older than Lifeboat needs: hosts made from this image exercise the copy of
// Lifeboat's own restic. Bump the version when the package list changes, so caches rebuild.
const PACKAGES = ["restic", "openssh-server"];
const IMAGE_VERSION = 2;
export const BASE_IMAGE = `lifeboat-test-base:bookworm-${IMAGE_VERSION}`;
const CACHE = process.env.LIFEBOAT_FLEET_CACHE ?? "/var/cache/lifeboat-test";
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

/** Builds (once; the tarball is cached) and imports the base image when podman does not have it. */
export async function ensureBaseImage(): Promise<void> {
  await requireTools();
  if ((await execa("podman", ["image", "exists", BASE_IMAGE], { reject: false })).exitCode === 0) return;
  const tarball = path.join(CACHE, `bookworm-minbase-${IMAGE_VERSION}.tar`);
  if (!existsSync(tarball)) {
    await mkdir(CACHE, { recursive: true });
    const rootfs = await mkdtemp(path.join(CACHE, "rootfs-"));
    try {
      await execa("debootstrap", [
        "--variant=minbase",
        `--include=${PACKAGES.join(",")}`,
        "bookworm",
        rootfs,
        "http://deb.debian.org/debian",
      ]);
      // Every host gets its own ssh host key at start; none is baked into the image.
      await execa("sh", ["-c", `rm -f ${rootfs}/etc/ssh/ssh_host_*`]);
      await execa("tar", ["-C", rootfs, "-cf", `${tarball}.part`, "."]);
      await execa("mv", [`${tarball}.part`, tarball]);
    } finally {
      await rm(rootfs, { recursive: true, force: true });
    }
  }
  await execa("podman", ["import", tarball, BASE_IMAGE]);
}

// Services for the database and recovery tests (database servers, nginx), added to the base image with apt
// inside a container (the Debian mirror is reachable through podman's NAT) and committed as an image of its own.
const DB_PACKAGES = ["postgresql", "mariadb-server", "sqlite3", "nginx"];
export const DB_IMAGE = `lifeboat-test-db:bookworm-3`;
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
export const RPM_IMAGE = "lifeboat-test-rpm:bookworm-1";

export async function ensureRpmImage(): Promise<void> {
  await ensureDbImage();
  await ensureImageWith(DB_IMAGE, RPM_IMAGE, ["rpm"]);
}

/** `image`: `from` with Debian packages added by apt inside a container, committed once. */
async function ensureImageWith(from: string, image: string, packages: readonly string[]): Promise<void> {
  if ((await execa("podman", ["image", "exists", image], { reject: false })).exitCode === 0) return;
  const builder = `lifeboat-image-${process.pid}-${image.replace(/\W/g, "-")}`;
  await execa("podman", ["rm", "-f", builder], { reject: false });
  try {
    await execa("podman", [
      "run",
      "--name",
      builder,
      ...RUN_FLAGS,
      from,
      "sh",
      "-c",
      `apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${packages.join(" ")} && apt-get clean`,
    ]);
    await execa("podman", ["commit", "-q", builder, image]);
  } finally {
    await execa("podman", ["rm", "-f", builder], { reject: false });
  }
}

export interface ContainerHost {
  name: string;
  /** A transport to the container as root, for setting up test data. */
  root: ContainerTransport;
  address(): Promise<string>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export async function startContainerHost(name: string, image = BASE_IMAGE): Promise<ContainerHost> {
  await (image === RPM_IMAGE ? ensureRpmImage() : image === DB_IMAGE ? ensureDbImage() : ensureBaseImage());
  await execa("podman", ["rm", "-f", name], { reject: false });
  await execa("podman", [
    "run",
    "-d",
    "--name",
    name,
    "--hostname",
    name,
    ...RUN_FLAGS,
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
      await execa("podman", ["stop", "-t", "1", name], { reject: false });
    },
    remove: async () => {
      await execa("podman", ["rm", "-f", name], { reject: false });
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
  await execa("podman", [
    "exec",
    "-d",
    name,
    "/usr/sbin/sshd",
    "-D",
    "-e",
    "-o",
    "PasswordAuthentication=no",
  ]);
  const address = await host.address();
  const hostKey = (await root.readFile("/etc/ssh/ssh_host_ed25519_key.pub")).toString().trim();
  const knownHostsFile = path.join(dir, "known_hosts");
  await writeFile(knownHostsFile, `${address} ${hostKey.split(" ").slice(0, 2).join(" ")}\n`);
  // Ready once sshd accepts connections.
  for (let i = 0; i < 100; i++) {
    const r = await execa("ssh-keyscan", ["-T", "2", address], { reject: false });
    if (r.exitCode === 0 && String(r.stdout).length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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

/** A container host running PostgreSQL 15 (socket, peer auth for `postgres`) and MariaDB (socket, root). */
export async function startDbHost(name: string): Promise<ContainerHost> {
  const host = await startContainerHost(name, DB_IMAGE);
  await must(host.root, ["pg_ctlcluster", "15", "main", "start"]);
  await execa("podman", ["exec", "-d", name, "mysqld_safe"]);
  for (let i = 0; i < 100; i++) {
    if ((await host.root.run(["mysqladmin", "ping"])).exitCode === 0) return host;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`MariaDB did not start on ${name}`);
}
