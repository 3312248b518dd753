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
  /** The run's private directory on the host (made on first use); removed by cleanup. */
  privateDir(): Promise<string>;
  /** Removes everything this run put on the host. */
  cleanup(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 60_000;

// One round trip: the host's machine type, then its restic's version and exit status.
const PROBE = 'uname -m; restic version 2>&1; echo "rc=$?"';

// A private directory for the run, printed as "dir=PATH"; exit 90 when none can be made.
const MAKE_DIR =
  "umask 077; d=$(mktemp -d /var/tmp/lifeboat.XXXXXXXX 2>/dev/null || mktemp -d) || exit 90; " +
  'printf "dir=%s\\n" "$d"; ';
const madeDir = (stdout: string): string | undefined => /^dir=(\/\S+)$/m.exec(stdout)?.[1];

// One round trip with our restic on stdin: a private directory, the binary in it, and proof that it runs there.
// /var/tmp first: /tmp is more often mounted noexec.
const INSTALL = MAKE_DIR + 'cat > "$d/restic" && chmod 700 "$d/restic" || exit 91; "$d/restic" version';

// The first file of a run: a private directory, made in the same round trip.
const PUT_FIRST = MAKE_DIR + 'cat > "$d/$1" && chmod "$2" "$d/$1"';

interface Probe {
  arch: string;
  exitCode: number;
  version: [number, number, number] | undefined;
}

async function probeHost(transport: Transport): Promise<Probe> {
  const r = await transport.run(["sh", "-c", PROBE], { timeoutMs: PROBE_TIMEOUT_MS });
  const lines = r.stdout.trim().split("\n");
  const exitCode = Number(/^rc=(\d+)$/.exec(lines.at(-1) ?? "")?.[1] ?? r.exitCode);
  return {
    arch: lines[0]?.trim() ?? "",
    exitCode,
    version: exitCode === 0 ? parseResticVersion(lines.slice(1).join("\n")) : undefined,
  };
}

export interface HostResticState {
  /** The host's own restic is recent enough. */
  usable: boolean;
  version: string | undefined;
  /** What is wrong with it, for messages: "is not installed", "0.14.0 is too old", "does not run". */
  found: string;
  /** The host's machine type (uname -m). */
  arch: string;
}

/**
 * The host's own restic, without changing anything there: usable, or what is wrong with it. Throws when it is
 * not usable and the policy forbids copying Lifeboat's (`install: false`).
 */
export async function inspectHostRestic(
  transport: Transport,
  options: { install: boolean; policyFile?: string | undefined },
): Promise<HostResticState> {
  const own = await probeHost(transport);
  const version = own.version?.join(".");
  if (own.version && isSupported(own.version))
    return { usable: true, version, found: `${version} is installed`, arch: own.arch };
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
  return { usable: false, version, found, arch: own.arch };
}

/** restic on a host reached over ssh or a container; `install: false` forbids copying Lifeboat's own. */
export async function resticOnHost(
  transport: Transport,
  options: { install: boolean; policyFile?: string | undefined; logger?: Logger | undefined },
): Promise<HostRestic> {
  const host = transport.host;
  let workDir: string | undefined;
  const setupFailed = (what: string, stderr: string) =>
    new LifeboatError("HOST_SETUP_FAILED", `${what} on ${host}: ${stderr.trim() || "no reason given"}`, {
      hint: `Check that ${host} has free space in /var/tmp or /tmp, that the login user may write there and that it is not mounted noexec; or install restic ${MIN_RESTIC.join(".")} or newer on ${host}.`,
    });
  const put = async (name: string, data: Buffer, mode = 0o600): Promise<string> => {
    if (workDir) {
      await transport.writeFile(`${workDir}/${name}`, data, mode);
      return `${workDir}/${name}`;
    }
    // The first file makes the directory in the same round trip.
    const r = await transport.run(["sh", "-c", PUT_FIRST, "lifeboat", name, mode.toString(8)], {
      stdin: data,
    });
    workDir = madeDir(r.stdout);
    if (r.exitCode !== 0 || !workDir) {
      await cleanup();
      throw setupFailed(
        r.exitCode === 90 ? "cannot create a private directory" : `cannot write ${name}`,
        r.stderr,
      );
    }
    return `${workDir}/${name}`;
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

  const privateDir = async (): Promise<string> => {
    if (!workDir) await put(".lifeboat", Buffer.alloc(0));
    return workDir ?? "";
  };
  const own = await inspectHostRestic(transport, options);
  if (own.usable)
    return {
      transport,
      binary: "restic",
      version: own.version ?? "",
      installed: false,
      put,
      privateDir,
      cleanup,
    };
  const local = await findRestic();
  if (own.arch && own.arch !== machine()) {
    throw new LifeboatError(
      "RESTIC_MISSING",
      `restic ${own.found} on ${host}, and Lifeboat's own restic is built for ${machine()}, not ${own.arch}`,
      { hint: `Install restic ${MIN_RESTIC.join(".")} or newer on ${host}.` },
    );
  }
  const r = await transport.run(["sh", "-c", INSTALL], {
    stdin: await readFile(resolveOnPath(local.path)),
    timeoutMs: 10 * PROBE_TIMEOUT_MS,
  });
  workDir = madeDir(r.stdout);
  const version = r.exitCode === 0 ? parseResticVersion(r.stdout) : undefined;
  if (!version) {
    await cleanup();
    const what =
      r.exitCode === 90
        ? "cannot create a private directory"
        : r.exitCode === 91
          ? "cannot write Lifeboat's restic"
          : `the restic copied there does not run (exit ${r.exitCode})`;
    throw setupFailed(what, r.stderr);
  }
  const binary = `${workDir}/restic`;
  options.logger?.info(
    { host, restic: version.join("."), found: own.found },
    "copied Lifeboat's restic to the host for this run",
  );
  return { transport, binary, version: version.join("."), installed: true, put, privateDir, cleanup };
}

/** An absolute path for a program name found on PATH. */
function resolveOnPath(file: string): string {
  if (file.includes("/")) return file;
  return execFileSync("sh", ["-c", 'command -v "$1"', "sh", file], { encoding: "utf8" }).trim();
}
