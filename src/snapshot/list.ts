// `lifeboat snapshots`: what each host's repository holds.

import type { Logger } from "pino";
import { HostHistory } from "../catalog/history.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost, requireValidPolicies } from "../policy/load.js";
import type { Snapshot } from "../restic/messages.js";
import { openRepository, repositoryExists } from "../storage/repository.js";
import { dumpFileOf, isDump, LIFEBOAT_TAG, parseDumpFile } from "./tags.js";

export interface SnapshotRow {
  host: string;
  id: string;
  shortId: string;
  time: string;
  paths: string[];
  tags: string[];
  files: number | undefined;
  totalBytes: number | undefined;
  bytesAdded: number | undefined;
  /** What it holds: "files", or the dump of one database ("postgres app", "redis 6379", "mysql accounts"). */
  holds: string;
}

/** What a snapshot holds, from its tags: the files, or which database's dump. */
export function holdsOf(tags: readonly string[]): string {
  const file = dumpFileOf({ tags: [...tags] });
  if (!file) return "files";
  const parsed = parseDumpFile(file, []);
  // SQLite dump names are made from the file's path: shown as they are.
  return parsed ? `${parsed.engine} ${parsed.database}` : `dump ${file}`;
}

export function toRow(host: string, s: Snapshot): SnapshotRow {
  return {
    holds: holdsOf(s.tags ?? []),
    host,
    id: s.id,
    shortId: s.short_id,
    time: s.time,
    paths: s.paths,
    tags: s.tags ?? [],
    files: s.summary?.total_files_processed,
    totalBytes: s.summary?.total_bytes_processed,
    bytesAdded: s.summary?.data_added,
  };
}

/** Snapshots of one host, oldest first. */
export async function hostSnapshots(
  config: LifeboatConfig,
  host: string,
  logger?: Logger,
): Promise<{ rows: SnapshotRow[]; repository: string; exists: boolean }> {
  const policy = await policyForHost(config, host);
  if (!(await repositoryExists(config, policy.repository, host))) {
    // A host that was never snapshotted has no repository: an empty list, not an error.
    return { rows: [], repository: policy.repository, exists: false };
  }
  const opened = await openRepository({ config, targetName: policy.repository, host, logger });
  const snaps = await opened.repo.snapshots({ host, tags: [LIFEBOAT_TAG] });
  snaps.sort((a, b) => a.time.localeCompare(b.time));
  return { rows: snaps.map((s) => toRow(host, s)), repository: opened.location, exists: true };
}

export async function listSnapshots(
  config: LifeboatConfig,
  host?: string,
  logger?: Logger,
): Promise<SnapshotRow[]> {
  if (host) return (await hostSnapshots(config, host, logger)).rows;
  const rows: SnapshotRow[] = [];
  for (const p of await requireValidPolicies(config))
    rows.push(...(await hostSnapshots(config, p.host, logger)).rows);
  return rows;
}

/** The snapshot `ref` names for `host`: "latest", a full id or an id prefix. */
/** The newest complete snapshot the catalog knows of: no restic call (and no key derivation) needed. */
async function latestFromCatalog(
  config: LifeboatConfig,
  host: string,
  targetName: string,
): Promise<SnapshotRow | undefined> {
  const record = await new HostHistory(catalogFor(config, targetName), host).newest("snapshot", {
    succeeded: true,
  });
  if (!record?.snapshotId) return undefined;
  return {
    host,
    id: record.snapshotId,
    shortId: record.snapshotId.slice(0, 8),
    time: record.startedAt,
    paths: [],
    tags: [],
    files: record.totalFiles,
    totalBytes: record.totalBytes,
    bytesAdded: record.bytesAdded,
    holds: "files",
  };
}

/**
 * The snapshot `ref` names for `host`: "latest" (the newest complete snapshot, from the catalog when it has
 * one, else from restic's list), a full id or an id prefix.
 */
export async function resolveSnapshot(
  config: LifeboatConfig,
  host: string,
  ref: string,
  logger?: Logger,
): Promise<SnapshotRow> {
  if (ref === "latest") {
    const policy = await policyForHost(config, host);
    const fromCatalog = await latestFromCatalog(config, host, policy.repository);
    if (fromCatalog) return fromCatalog;
  }
  const { rows, repository, exists } = await hostSnapshots(config, host, logger);
  if (!exists) {
    throw new LifeboatError("REPOSITORY_MISSING", `host ${host} has no repository on target ${repository}`, {
      hint: `Nothing was ever snapshotted for ${host} there. Check the storage target in lifeboat.yaml, or run \`lifeboat snapshot --host ${host}\` first.`,
    });
  }
  return pickSnapshot(rows, host, ref);
}

/** The row `ref` names among a host's snapshots (oldest first): "latest" (the newest of files), an id or a prefix. */
export function pickSnapshot(rows: readonly SnapshotRow[], host: string, ref: string): SnapshotRow {
  if (rows.length === 0) {
    throw new LifeboatError("SNAPSHOT_NOT_FOUND", `host ${host} has no snapshots yet`, {
      hint: `Run \`lifeboat snapshot --host ${host}\` first.`,
    });
  }
  // "latest" means the files; a database's dumps are restored by name (their snapshots carry a dump: tag).
  const found =
    ref === "latest" ? rows.filter((r) => !isDump(r)).at(-1) : rows.filter((r) => r.id.startsWith(ref));
  if (Array.isArray(found)) {
    if (found.length === 1 && found[0]) return found[0];
    throw new LifeboatError(
      "SNAPSHOT_NOT_FOUND",
      found.length === 0
        ? `host ${host} has no snapshot ${ref}`
        : `snapshot id ${ref} is ambiguous for host ${host}`,
      { hint: `Run \`lifeboat snapshots --host ${host}\` and pass a longer id, or "latest".` },
    );
  }
  if (!found) {
    throw new LifeboatError(
      "SNAPSHOT_NOT_FOUND",
      `host ${host} has only database dumps, no snapshot of files`,
      {
        hint: `Restore a database with \`lifeboat restore --host ${host} --database NAME --target FILE\`.`,
      },
    );
  }
  return found;
}
