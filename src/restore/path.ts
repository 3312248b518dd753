// `lifeboat restore --path P`: one file or directory out of a snapshot, verified, into a directory here or back
// in place on the host (through its transport), where a newer file is never overwritten unless forced and what
// is replaced is kept beside it.
import { lstat, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { type Policy, policyForHost } from "../policy/load.js";
import type { ResticRepository } from "../restic/engine.js";
import type { LsNode } from "../restic/messages.js";
import { type HostRestic, resticOnHost } from "../restic/on-host.js";
import { resolveSnapshot } from "../snapshot/list.js";
import { openPolicyRepository } from "../storage/repository.js";
import { openTransport } from "../transport/open.js";
import type { Transport } from "../transport/types.js";
import { countTree } from "./run.js";

export interface PathRestoreOptions {
  config: LifeboatConfig;
  host: string;
  /** The absolute path of a file or directory as it was on the host. */
  path: string;
  /** "latest" (default), a snapshot id or an id prefix. */
  snapshot?: string | undefined;
  /** A directory here: the file or directory lands in it under its own name. */
  target?: string | undefined;
  /** Back where it was, on the host. */
  inPlace?: boolean | undefined;
  /** Replace what is there even if it is newer than the snapshot's copy (it is kept beside it all the same). */
  force?: boolean | undefined;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

export interface PathRestoreOutcome {
  host: string;
  snapshotId: string;
  shortId: string;
  snapshotTime: string;
  path: string;
  type: "file" | "dir";
  /** Where it was written: a path here, or on the host for --in-place. */
  restoredTo: string;
  where: "here" | "host";
  files: number;
  bytes: number;
  verified: true;
  /** What was there before and was moved aside (in place, or a forced --target). */
  kept: string | undefined;
  seconds: number;
}

/** What the snapshot holds at `p`: its type, the files and bytes below it, and its modification time. */
interface Expected {
  type: "file" | "dir";
  files: number;
  bytes: number;
  mtime: string | undefined;
}

/** An absolute path without `.`/`..` segments or a trailing slash, or a USAGE error. */
export function normalizeSnapshotPath(p: string): string {
  if (!p.startsWith("/"))
    throw new LifeboatError("USAGE", `--path must be absolute (as it was on the host), not ${p}`, {
      hint: "Give the full path, e.g. /srv/app/uploads/2026/x.jpg; `lifeboat ls --host H` shows the snapshot's paths.",
    });
  if (p.split("/").some((s) => s === ".."))
    throw new LifeboatError("USAGE", `--path may not contain "..": ${p}`);
  const normal = path.posix.normalize(p).replace(/\/+$/, "");
  if (normal === "")
    throw new LifeboatError("USAGE", "--path / is the whole snapshot", {
      hint: "Restore the whole snapshot with `lifeboat restore --host H --target DIR`.",
    });
  return normal;
}

async function expectedAt(
  repo: ResticRepository,
  snapshot: string,
  p: string,
): Promise<Expected | undefined> {
  let self: LsNode | undefined;
  let files = 0;
  let bytes = 0;
  await repo.ls(
    snapshot,
    (node) => {
      if (node.path === p) self = node;
      if (node.type === "file" && (node.path === p || node.path.startsWith(`${p}/`))) {
        files++;
        bytes += node.size ?? 0;
      }
    },
    [p],
    { recursive: true },
  );
  if (!self || (self.type !== "file" && self.type !== "dir")) return undefined;
  return { type: self.type, files, bytes, mtime: self.mtime };
}

/** A moment as a file name part: 20261206T165300Z. */
const stampOf = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

function verifyFailed(what: string, shortId: string, p: string): LifeboatError {
  return new LifeboatError(
    "RESTORE_VERIFY_FAILED",
    `restore of ${p} from ${shortId} did not verify: ${what}`,
    {
      hint: "Nothing was replaced. Restore again; if it fails again run `lifeboat check` on the repository.",
    },
  );
}

export async function restorePath(options: PathRestoreOptions): Promise<PathRestoreOutcome> {
  const started = Date.now();
  if (!options.inPlace === !options.target)
    throw new LifeboatError("USAGE", "--path needs either --target DIR or --in-place", {
      hint: "--target DIR writes it into a directory here; --in-place puts it back where it was on the host.",
    });
  const p = normalizeSnapshotPath(options.path);
  const policy = await policyForHost(options.config, options.host);
  const chosen = await resolveSnapshot(
    options.config,
    policy.host,
    options.snapshot ?? "latest",
    options.logger,
  );
  const admin = await openPolicyRepository(options.config, policy, {
    logger: options.logger,
    signal: options.signal,
  });
  const expected = await expectedAt(admin.repo, chosen.id, p);
  if (!expected)
    throw new LifeboatError(
      "PATH_NOT_IN_SNAPSHOT",
      `snapshot ${chosen.shortId} of ${policy.host} has no ${p}`,
      {
        hint: `See what it holds with \`lifeboat ls --host ${policy.host} --snapshot ${chosen.shortId} ${path.posix.dirname(p)}\`, or which snapshots have it with \`lifeboat find --host ${policy.host} ${path.posix.basename(p)}\`.`,
      },
    );
  const common = {
    host: policy.host,
    snapshotId: chosen.id,
    shortId: chosen.shortId,
    snapshotTime: chosen.time,
    path: p,
    type: expected.type,
    files: expected.files,
    bytes: expected.bytes,
    verified: true as const,
  };
  const done = (r: { restoredTo: string; where: "here" | "host"; kept: string | undefined }) => ({
    ...common,
    ...r,
    seconds: (Date.now() - started) / 1000,
  });
  if (options.target) {
    const r = await restoreHere(admin.repo, chosen, p, expected, options.target, options.force ?? false);
    return done({ ...r, where: "here" });
  }
  const r = await restoreInPlace(options, policy, chosen, p, expected, admin.repo);
  return done({ ...r, where: "host" });
}

/** Into `target` here, under the path's own name; restored beside it first, so nothing half-made is left there. */
async function restoreHere(
  repo: ResticRepository,
  chosen: { id: string; shortId: string },
  p: string,
  expected: Expected,
  targetDir: string,
  force: boolean,
): Promise<{ restoredTo: string; kept: string | undefined }> {
  const dir = path.resolve(targetDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const dest = path.join(dir, path.posix.basename(p));
  const there = await lstat(dest).catch(() => undefined);
  if (there && !force)
    throw new LifeboatError("RESTORE_TARGET_NOT_EMPTY", `${dest} already exists`, {
      hint: "Name another --target directory, or pass --force (what is there is kept beside it).",
    });
  const scratch = await mkdtemp(path.join(dir, ".lifeboat-restore-"));
  try {
    const { itemErrors } = await repo.restore({
      snapshot: chosen.id,
      target: scratch,
      include: [p],
      verify: true,
    });
    if (itemErrors.length > 0) throw verifyFailed(`${itemErrors.length} error(s)`, chosen.shortId, p);
    const restored = path.join(scratch, p);
    const got =
      expected.type === "dir" ? await countTree(restored) : { files: 1, bytes: (await lstat(restored)).size };
    if (got.files !== expected.files || got.bytes !== expected.bytes)
      throw verifyFailed(
        `found ${got.files} files (${got.bytes} bytes), the snapshot holds ${expected.files} (${expected.bytes} bytes)`,
        chosen.shortId,
        p,
      );
    let kept: string | undefined;
    if (there) {
      kept = `${dest}.lifeboat-${stampOf(new Date())}`;
      await rename(dest, kept);
    }
    await rename(restored, dest);
    return { restoredTo: dest, kept };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

// On the host: a private directory beside the path (same file system, so the swap is a rename), made with its
// parents. Prints dir=PATH.
const MAKE_SCRATCH =
  'parent=$(dirname "$1"); mkdir -p "$parent" || exit 1; umask 077; d=$(mktemp -d "$parent/.lifeboat-restore-XXXXXXXX") || exit 1; printf "dir=%s\\n" "$d"';
// Regular files below (or at) $1, one size per line.
const SIZES = 'find "$1" -type f -printf "%s\\n"';
// Moves what is at the destination aside (unless something there is newer than $5 and $4 is not 1), then the
// restored copy into place. Prints newer=PATH (exit 75) or kept=PATH.
const SWAP = [
  "src=$1 dest=$2 keep=$3 force=$4 since=$5",
  'if [ -e "$dest" ] || [ -L "$dest" ]; then',
  '  if [ "$force" != 1 ]; then',
  '    newer=$(find "$dest" -newermt "@$since" -print -quit 2>/dev/null)',
  '    if [ -n "$newer" ]; then printf "newer=%s\\n" "$newer"; exit 75; fi',
  "  fi",
  '  mv -- "$dest" "$keep" || exit 1',
  '  printf "kept=%s\\n" "$keep"',
  "fi",
  'mv -- "$src" "$dest"',
].join("\n");

async function must(
  transport: Transport,
  argv: string[],
  what: string,
  signal?: AbortSignal,
): Promise<string> {
  const r = await transport.run(argv, { timeoutMs: 600_000, signal });
  if (r.exitCode !== 0)
    throw new LifeboatError(
      "HOST_SETUP_FAILED",
      `${what} on ${transport.host} failed: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.exitCode}`}`,
      {
        hint: "Check free space and permissions on the host (Lifeboat's transport user must be able to write there).",
      },
    );
  return r.stdout;
}

/** Back where it was on the host: restored beside it by restic there, verified, then swapped in. */
async function restoreInPlace(
  options: PathRestoreOptions,
  policy: Policy,
  chosen: { id: string; shortId: string; time: string },
  p: string,
  expected: Expected,
  /** The repository as the controller opened it: a local host's restic is this one. */
  controller: ResticRepository,
): Promise<{ restoredTo: string; kept: string | undefined }> {
  const transport = await openTransport(policy.host, policy.transport);
  let onHost: HostRestic | undefined;
  let scratch: string | undefined;
  try {
    // A remote host's own restic, with the host's key; a local host's is the controller's.
    let repo = controller;
    if (transport.kind !== "local") {
      onHost = await resticOnHost(transport, {
        install: policy.installRestic,
        policyFile: policy.file,
        logger: options.logger,
      });
      repo = (
        await openPolicyRepository(options.config, policy, {
          onHost,
          logger: options.logger,
          signal: options.signal,
        })
      ).repo;
    }
    const made = await must(
      transport,
      ["sh", "-c", MAKE_SCRATCH, "scratch", p],
      `making a directory beside ${p}`,
    );
    scratch = /^dir=(\/.+)$/m.exec(made)?.[1];
    if (!scratch)
      throw new LifeboatError(
        "HOST_SETUP_FAILED",
        `no directory could be made beside ${p} on ${policy.host}`,
      );
    const { itemErrors } = await repo.restore({
      snapshot: chosen.id,
      target: scratch,
      include: [p],
      verify: true,
      host: policy.host,
    });
    if (itemErrors.length > 0) throw verifyFailed(`${itemErrors.length} error(s)`, chosen.shortId, p);
    const restored = `${scratch}${p}`;
    const sizes = (
      await must(transport, ["sh", "-c", SIZES, "sizes", restored], "counting the restored files")
    )
      .split("\n")
      .filter(Boolean)
      .map(Number);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    if (sizes.length !== expected.files || bytes !== expected.bytes)
      throw verifyFailed(
        `found ${sizes.length} files (${bytes} bytes) on ${policy.host}, the snapshot holds ${expected.files} (${expected.bytes} bytes)`,
        chosen.shortId,
        p,
      );
    // Newer than the snapshot's copy of the file (or, for a directory, than the snapshot itself).
    const since = Date.parse((expected.type === "file" && expected.mtime) || chosen.time) / 1000;
    const keep = `${p}.lifeboat-${stampOf(new Date())}`;
    const r = await transport.run(
      ["sh", "-c", SWAP, "swap", restored, p, keep, options.force ? "1" : "0", since.toFixed(3)],
      { timeoutMs: 600_000, signal: options.signal },
    );
    const newer = /^newer=(.*)$/m.exec(r.stdout)?.[1];
    if (r.exitCode === 75 && newer !== undefined)
      throw new LifeboatError(
        "RESTORE_TARGET_NEWER",
        `${newer} on ${policy.host} is newer than the copy in snapshot ${chosen.shortId} (${chosen.time}); nothing was replaced`,
        {
          hint: `Restore it beside with --target DIR and compare, or pass --force to replace it (what is there is kept as ${keep}).`,
        },
      );
    if (r.exitCode !== 0)
      throw new LifeboatError(
        "HOST_SETUP_FAILED",
        `putting ${p} back on ${policy.host} failed: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.exitCode}`}`,
        {
          hint: "Check permissions on the host; the restored copy was removed, the original left as it was.",
        },
      );
    return { restoredTo: p, kept: /^kept=(.*)$/m.exec(r.stdout)?.[1] };
  } finally {
    if (scratch) await transport.run(["rm", "-rf", "--", scratch], { timeoutMs: 600_000 }).catch(() => {});
    await onHost?.cleanup();
  }
}
