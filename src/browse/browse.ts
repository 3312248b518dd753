// Browsing a host's snapshots without restoring them: what one holds under a path (`ls`), which snapshots hold a
// file (`find`), and what changed between two (`diff`). Read-only, on the controller, with the target's key.
import path from "node:path";
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost } from "../policy/load.js";
import type { ResticRepository } from "../restic/engine.js";
import type { LsNode } from "../restic/messages.js";
import { normalizeSnapshotPath } from "../restore/path.js";
import { hostSnapshots, pickSnapshot, resolveSnapshot, type SnapshotRow } from "../snapshot/list.js";
import { dumpOf, LIFEBOAT_TAG } from "../snapshot/tags.js";
import { openPolicyRepository } from "../storage/repository.js";

interface BrowseOptions {
  config: LifeboatConfig;
  host: string;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

export interface BrowseEntry {
  path: string;
  type: string;
  size: number | undefined;
  mtime: string | undefined;
  permissions: string | undefined;
}

export interface SnapshotRef {
  id: string;
  shortId: string;
  time: string;
  /** The dump a database snapshot holds (postgres-app), undefined for files. */
  dump: string | undefined;
}

const entryOf = (n: LsNode): BrowseEntry => ({
  path: n.path,
  type: n.type,
  size: n.type === "file" ? (n.size ?? 0) : undefined,
  mtime: n.mtime,
  permissions: n.permissions,
});

const refOf = (
  r: SnapshotRow | { id: string; shortId: string; time: string; tags?: string[] },
): SnapshotRef => ({
  id: r.id,
  shortId: r.shortId,
  time: r.time,
  dump: dumpOf({ tags: r.tags }),
});

async function repositoryOf(options: BrowseOptions): Promise<{ host: string; repo: ResticRepository }> {
  const policy = await policyForHost(options.config, options.host);
  const opened = await openPolicyRepository(options.config, policy, {
    logger: options.logger,
    signal: options.signal,
  });
  return { host: policy.host, repo: opened.repo };
}

export interface Listing {
  host: string;
  snapshot: SnapshotRef;
  path: string;
  entries: BrowseEntry[];
}

/** What a snapshot holds under `path` (its direct entries, or all below it with `recursive`); all of it without. */
export async function listSnapshotPath(
  options: BrowseOptions & { snapshot?: string | undefined; path?: string | undefined; recursive?: boolean },
): Promise<Listing> {
  const p = options.path && options.path !== "/" ? normalizeSnapshotPath(options.path) : undefined;
  const { host, repo } = await repositoryOf(options);
  const chosen = await resolveSnapshot(options.config, host, options.snapshot ?? "latest", options.logger);
  const entries: BrowseEntry[] = [];
  let self: LsNode | undefined;
  await repo.ls(
    chosen.id,
    (node) => {
      if (node.path === p) self = node;
      else entries.push(entryOf(node));
    },
    p ? [p] : [],
    { recursive: options.recursive ?? p === undefined },
  );
  if (p && !self)
    throw new LifeboatError("PATH_NOT_IN_SNAPSHOT", `snapshot ${chosen.shortId} of ${host} has no ${p}`, {
      hint: `List its parent: \`lifeboat ls --host ${host} --snapshot ${chosen.shortId} ${path.posix.dirname(p)}\`.`,
    });
  // A file asked for by its path is the listing itself.
  if (self && self.type !== "dir") entries.push(entryOf(self));
  return { host, snapshot: refOf(chosen), path: p ?? "/", entries };
}

export interface FindHit {
  snapshot: SnapshotRef;
  matches: BrowseEntry[];
}

const MAX_PATTERN = 4096;

/** Which snapshots of the host hold a file or directory whose name matches `pattern`, newest first. */
export async function findInSnapshots(options: BrowseOptions & { pattern: string }): Promise<FindHit[]> {
  const pattern = options.pattern;
  if (!pattern || pattern.length > MAX_PATTERN || /[\0\n]/.test(pattern))
    throw new LifeboatError(
      "USAGE",
      "the pattern must be a name or glob (e.g. invoice-*.pdf), at most 4096 characters",
      {
        hint: "A pattern that begins with / matches a whole path (e.g. /srv/app/uploads/*.jpg).",
      },
    );
  const { host, repo } = await repositoryOf(options);
  const snapshots = await repo.snapshots({ host, tags: [LIFEBOAT_TAG] });
  const byId = new Map(snapshots.map((s) => [s.id, s]));
  const found = await repo.find(pattern, { host, tags: [LIFEBOAT_TAG] });
  return found
    .flatMap((f): FindHit[] => {
      const s = byId.get(f.snapshot);
      if (!s) return [];
      return [
        {
          snapshot: refOf({ id: s.id, shortId: s.short_id, time: s.time, tags: s.tags ?? [] }),
          matches: f.matches.map(entryOf),
        },
      ];
    })
    .sort((a, b) => b.snapshot.time.localeCompare(a.snapshot.time));
}

export interface Difference {
  host: string;
  from: SnapshotRef;
  to: SnapshotRef;
  added: Array<{ path: string; type: string; size: number | undefined }>;
  removed: Array<{ path: string; type: string; size: number | undefined }>;
  /** Content (M), type (T) or, only with metadata, metadata (U) changed: the size on each side. */
  changed: Array<{
    path: string;
    change: "content" | "type" | "metadata";
    sizeBefore: number | undefined;
    sizeAfter: number | undefined;
  }>;
  totals: { addedBytes: number; removedBytes: number; changedFiles: number } | undefined;
}

/** What changed from snapshot `from` to `to` of the host, with each file's size (from the two listings). */
export async function diffSnapshots(
  options: BrowseOptions & { from: string; to: string; metadata?: boolean },
): Promise<Difference> {
  const { host, repo } = await repositoryOf(options);
  // One listing answers both names (each restic call costs a key derivation).
  const { rows } = await hostSnapshots(options.config, host, options.logger);
  const from = pickSnapshot(rows, host, options.from);
  const to = pickSnapshot(rows, host, options.to);
  const { changes, statistics } = await repo.diff(from.id, to.id);
  const wanted = new Set(changes.map((c) => c.path.replace(/\/$/, "")));
  // Sizes and types of the changed paths only: the listings stream, nothing else is kept.
  const sides = [new Map<string, LsNode>(), new Map<string, LsNode>()];
  await Promise.all(
    [from, to].map((s, i) =>
      repo.ls(s.id, (n) => {
        if (wanted.has(n.path)) sides[i]?.set(n.path, n);
      }),
    ),
  );
  const [before, after] = sides as [Map<string, LsNode>, Map<string, LsNode>];
  const size = (n: LsNode | undefined) => (n?.type === "file" ? (n.size ?? 0) : undefined);
  const out: Difference = {
    host,
    from: refOf(from),
    to: refOf(to),
    added: [],
    removed: [],
    changed: [],
    totals: statistics && {
      addedBytes: statistics.added.bytes,
      removedBytes: statistics.removed.bytes,
      changedFiles: statistics.changed_files,
    },
  };
  for (const c of changes) {
    const p = c.path.replace(/\/$/, "");
    const was = before.get(p);
    const is = after.get(p);
    if (c.modifier === "+") out.added.push({ path: p, type: is?.type ?? "?", size: size(is) });
    else if (c.modifier === "-") out.removed.push({ path: p, type: was?.type ?? "?", size: size(was) });
    else if (
      c.modifier.includes("M") ||
      c.modifier.includes("T") ||
      (options.metadata && c.modifier.includes("U"))
    )
      out.changed.push({
        path: p,
        change: c.modifier.includes("T") ? "type" : c.modifier.includes("M") ? "content" : "metadata",
        sizeBefore: size(was),
        sizeAfter: size(is),
      });
  }
  return out;
}
