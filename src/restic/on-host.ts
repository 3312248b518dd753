// restic where the data lives: the host's own when it is recent enough, else a copy of Lifeboat's own in a
// private directory on the host for the length of one run (or a clear failure where the policy forbids copying).
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { machine } from "node:os";
import type { Logger } from "pino";
import { LifeboatError } from "../errors.js";
import type { Transport } from "../transport/types.js";
import { findRestic, isSupported, MIN_RESTIC, parseResticVersion } from "./binary.js";

export interface HostRestic {
  transport: Transport;
  /** restic's path on the host. */
  binary: string;
  version: string;
  /** Set when this run copied Lifeboat's own restic to the host. */
  installed: boolean;
  /** Puts a file restic needs (a CA certificate) into the run's private directory on the host; returns its path. */
  put(name: string, data: Buffer, mode?: number): Promise<string>;
  /** Removes everything this run put on the host. */
  cleanup(): Promise<void>;
}

const VERSION_TIMEOUT_MS = 60_000;

async function hostVersion(
  transport: Transport,
  binary: string,
): Promise<{ exitCode: number; version?: [number, number, number] }> {
  const r = await transport.run([binary, "version"], { timeoutMs: VERSION_TIMEOUT_MS });
  return { exitCode: r.exitCode, ...(r.exitCode === 0 ? { version: parseResticVersion(r.stdout) } : {}) };
}

export interface HostResticState {
  /** The host's own restic is recent enough. */
  usable: boolean;
  version: string | undefined;
  /** What is wrong with it, for messages: "is not installed", "0.14.0 is too old", "does not run". */
  found: string;
}

/**
 * The host's own restic, without changing anything there: usable, or what is wrong with it. Throws when it is
 * not usable and the policy forbids copying Lifeboat's (`install: false`).
 */
export async function inspectHostRestic(
  transport: Transport,
  options: { install: boolean; policyFile?: string | undefined },
): Promise<HostResticState> {
  const own = await hostVersion(transport, "restic");
  const version = own.version?.join(".");
  if (own.version && isSupported(own.version))
    return { usable: true, version, found: `${version} is installed` };
  const found =
    own.exitCode === 127 ? "is not installed" : version ? `${version} is too old` : "does not run";
  if (!options.install) {
    throw new LifeboatError(
      own.version ? "RESTIC_TOO_OLD" : "RESTIC_MISSING",
      `restic ${found} on ${transport.host}, and its policy forbids copying Lifeboat's (installRestic: false)`,
      {
        hint: `Install restic ${MIN_RESTIC.join(".")} or newer on ${transport.host} (on Debian 12: the trixie package, as README says), or remove installRestic: false from ${options.policyFile ?? "its policy"} to let Lifeboat bring its own for each run.`,
      },
    );
  }
  return { usable: false, version, found };
}

/** restic on a host reached over ssh or a container; `install: false` forbids copying Lifeboat's own. */
export async function resticOnHost(
  transport: Transport,
  options: { install: boolean; policyFile?: string | undefined; logger?: Logger | undefined },
): Promise<HostRestic> {
  const host = transport.host;
  let workDir: string | undefined;
  const makeWorkDir = async (): Promise<string> => {
    if (workDir) return workDir;
    // /var/tmp first: /tmp is more often mounted noexec, and a copied restic must run.
    const r = await transport.run(["sh", "-c", "mktemp -d /var/tmp/lifeboat.XXXXXXXX || mktemp -d"]);
    const dir = r.stdout.trim().split("\n").at(-1) ?? "";
    if (r.exitCode !== 0 || !dir.startsWith("/"))
      throw new LifeboatError(
        "HOST_SETUP_FAILED",
        `cannot create a private directory on ${host}: ${r.stderr.trim()}`,
        {
          hint: `Check that ${host} has free space in /var/tmp or /tmp and that the login user may write there.`,
        },
      );
    workDir = dir;
    return dir;
  };
  const put = async (name: string, data: Buffer, mode = 0o600): Promise<string> => {
    const file = `${await makeWorkDir()}/${name}`;
    await transport.writeFile(file, data, mode);
    return file;
  };
  const cleanup = async (): Promise<void> => {
    if (!workDir) return;
    const dir = workDir;
    workDir = undefined;
    try {
      const r = await transport.run(["rm", "-rf", "--", dir], { timeoutMs: 60_000 });
      if (r.exitCode !== 0) throw new Error(r.stderr.trim());
    } catch (err) {
      options.logger?.warn(
        { host, dir, error: String(err) },
        "could not remove Lifeboat's private directory on the host",
      );
    }
  };

  const own = await inspectHostRestic(transport, options);
  if (own.usable)
    return { transport, binary: "restic", version: own.version ?? "", installed: false, put, cleanup };
  const found = own.found;
  const local = await findRestic();
  const arch = (await transport.run(["uname", "-m"])).stdout.trim();
  if (arch && arch !== machine()) {
    throw new LifeboatError(
      "RESTIC_MISSING",
      `restic ${found} on ${host}, and Lifeboat's own restic is built for ${machine()}, not ${arch}`,
      { hint: `Install restic ${MIN_RESTIC.join(".")} or newer on ${host}.` },
    );
  }
  try {
    const binary = await put("restic", await readFile(resolveOnPath(local.path)), 0o700);
    const copied = await hostVersion(transport, binary);
    if (!copied.version) {
      throw new LifeboatError(
        "HOST_SETUP_FAILED",
        `the restic copied to ${host} does not run (exit ${copied.exitCode})`,
        {
          hint: `Its directory may be mounted noexec; install restic ${MIN_RESTIC.join(".")} or newer on ${host} instead.`,
        },
      );
    }
    options.logger?.info(
      { host, restic: copied.version.join("."), found },
      "copied Lifeboat's restic to the host for this run",
    );
    return { transport, binary, version: copied.version.join("."), installed: true, put, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** An absolute path for a program name found on PATH. */
function resolveOnPath(file: string): string {
  if (file.includes("/")) return file;
  return execFileSync("sh", ["-c", 'command -v "$1"', "sh", file], { encoding: "utf8" }).trim();
}
