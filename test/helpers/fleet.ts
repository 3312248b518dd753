// The test fleet: container hosts from a Debian bookworm base image built from Debian packages
// (debootstrap minbase), imported into podman with the runc runtime and explicit ulimits (DESIGN.md).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";

export const BASE_IMAGE = "lifeboat-test-base:bookworm";
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
  const tarball = path.join(CACHE, "bookworm-minbase.tar");
  if (!existsSync(tarball)) {
    await mkdir(CACHE, { recursive: true });
    const rootfs = await mkdtemp(path.join(CACHE, "rootfs-"));
    try {
      await execa("debootstrap", ["--variant=minbase", "bookworm", rootfs, "http://deb.debian.org/debian"]);
      await execa("tar", ["-C", rootfs, "-cf", `${tarball}.part`, "."]);
      await execa("mv", [`${tarball}.part`, tarball]);
    } finally {
      await rm(rootfs, { recursive: true, force: true });
    }
  }
  await execa("podman", ["import", tarball, BASE_IMAGE]);
}

export interface ContainerHost {
  name: string;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export async function startContainerHost(name: string): Promise<ContainerHost> {
  await ensureBaseImage();
  await execa("podman", ["rm", "-f", name], { reject: false });
  await execa("podman", [
    "run",
    "-d",
    "--name",
    name,
    "--hostname",
    name,
    ...RUN_FLAGS,
    BASE_IMAGE,
    "sleep",
    "infinity",
  ]);
  return {
    name,
    stop: async () => {
      await execa("podman", ["stop", "-t", "1", name], { reject: false });
    },
    remove: async () => {
      await execa("podman", ["rm", "-f", name], { reject: false });
    },
  };
}
