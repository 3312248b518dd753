// `lifeboat restore --database NAME --target FILE`: one database's dump out of its newest (or a named) snapshot.
import { existsSync } from "node:fs";
import { mkdtemp, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { DATABASE_ENGINES, type DatabaseEngine } from "../policy/databases.js";
import { policyForHost } from "../policy/load.js";
import type { Snapshot } from "../restic/messages.js";
import { dumpName, dumpOf, dumpTag } from "../snapshot/tags.js";
import { openPolicyRepository } from "../storage/repository.js";

export interface DumpRestoreOptions {
  config: LifeboatConfig;
  host: string;
  /** The database's name (for SQLite: the database file's path on the host). */
  database: string;
  engine?: DatabaseEngine | undefined;
  /** "latest" (default) or a snapshot id prefix. */
  snapshot?: string | undefined;
  /** The file to write; it must not exist unless `force`. */
  target: string;
  force?: boolean;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

export interface DumpRestoreOutcome {
  host: string;
  engine: DatabaseEngine;
  database: string;
  snapshotId: string;
  shortId: string;
  snapshotTime: string;
  target: string;
  bytes: number;
  verified: boolean;
}

export async function restoreDump(options: DumpRestoreOptions): Promise<DumpRestoreOutcome> {
  const policy = await policyForHost(options.config, options.host);
  const target = path.resolve(options.target);
  if (!existsSync(path.dirname(target)))
    throw new LifeboatError("USAGE", `${path.dirname(target)} does not exist: nowhere to write ${target}`, {
      hint: `Create the directory first (mkdir -p ${path.dirname(target)}), or name a file in one that exists.`,
    });
  if (existsSync(target) && !options.force) {
    throw new LifeboatError("RESTORE_TARGET_NOT_EMPTY", `${target} already exists`, {
      hint: "Name a new file, or pass --force to replace it.",
    });
  }
  const engines = DATABASE_ENGINES.filter((e) => !options.engine || e === options.engine);
  const opened = await openPolicyRepository(options.config, policy, {
    logger: options.logger,
    signal: options.signal,
  });
  // One listing answers every engine (each restic call costs a key derivation): the dumps are told apart by tag.
  const all = await opened.repo.snapshots({ host: policy.host });
  const found: Array<{ engine: DatabaseEngine; file: string; snapshots: Snapshot[] }> = [];
  for (const engine of engines) {
    const file = dumpName(engine, options.database);
    const snapshots = all.filter((s) => s.tags?.includes(dumpTag(file)));
    if (snapshots.length > 0) found.push({ engine, file, snapshots });
  }
  if (found.length === 0) {
    const names = [...new Set(all.flatMap((s) => dumpOf(s) ?? []))];
    throw new LifeboatError(
      "SNAPSHOT_NOT_FOUND",
      `host ${policy.host} has no dump of database ${options.database}`,
      {
        hint: names.length
          ? `Dumps there: ${names.sort().join(", ")}.`
          : `Run \`lifeboat snapshot --host ${policy.host}\` first.`,
      },
    );
  }
  const [only, ...more] = found;
  if (!only || more.length > 0) {
    throw new LifeboatError(
      "USAGE",
      `database ${options.database} of ${policy.host} has dumps from ${found.map((f) => f.engine).join(" and ")}`,
      {
        hint: "Name one with --engine.",
      },
    );
  }
  const sorted = [...only.snapshots].sort((a, b) => a.time.localeCompare(b.time));
  const ref = options.snapshot ?? "latest";
  const chosen = ref === "latest" ? sorted.at(-1) : sorted.find((s) => s.id.startsWith(ref));
  if (!chosen) {
    throw new LifeboatError("SNAPSHOT_NOT_FOUND", `no dump of ${options.database} in snapshot ${ref}`, {
      hint: `Run \`lifeboat snapshots --host ${policy.host}\` for the dumps' snapshot ids.`,
    });
  }
  // Restored beside the target, then renamed: the target never holds half a dump.
  const scratch = await mkdtemp(path.join(path.dirname(target), ".lifeboat-restore-"));
  try {
    await opened.repo.restore({ snapshot: chosen.id, target: scratch, verify: true, host: policy.host });
    const restored = path.join(scratch, only.file);
    const size = (await stat(restored)).size;
    const recorded = chosen.summary?.total_bytes_processed;
    if (recorded !== undefined && size !== recorded) {
      throw new LifeboatError(
        "RESTORE_VERIFY_FAILED",
        `the dump restored from ${chosen.short_id} has ${size} bytes, the snapshot recorded ${recorded}`,
        {
          hint: "Restore again; if it fails again the repository may be damaged: run `lifeboat check`.",
        },
      );
    }
    await rename(restored, target);
    return {
      host: policy.host,
      engine: only.engine,
      database: options.database,
      snapshotId: chosen.id,
      shortId: chosen.short_id,
      snapshotTime: chosen.time,
      target,
      bytes: size,
      verified: true,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
