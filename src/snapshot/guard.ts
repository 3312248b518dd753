// The guard against silent loss: ransomware deletes or encrypts the data before anyone notices, and the nightly
// snapshot faithfully saves that; retention then prunes the good snapshots away. A snapshot that lost most of
// the files or bytes of the previous good one, or in which most files changed content, is marked suspicious:
// retention waits, an alert names the numbers, and status shows it until a person accepts it.
import { hostname, userInfo } from "node:os";
import { z } from "zod";
import { HostHistory } from "../catalog/history.js";
import { readCatalogJson } from "../catalog/read.js";
import type { RunRecord } from "../catalog/records.js";
import type { CatalogStore } from "../catalog/types.js";
import { LifeboatError } from "../errors.js";
import type { Guard } from "../schema/common.js";
import { formatBytes } from "../util/bytes.js";

export const suspicionSchema = z.object({
  reasons: z.array(z.string()),
  /** The good snapshot it was compared with. */
  against: z.object({ snapshotId: z.string(), at: z.string(), files: z.number(), bytes: z.number() }),
  files: z.number(),
  bytes: z.number(),
  changedFiles: z.number(),
});
export type Suspicion = z.infer<typeof suspicionSchema>;

/** What a snapshot run saved, as the guard compares it. */
export interface SavedFigures {
  files: number;
  bytes: number;
  /** Files whose content changed against restic's parent snapshot, and files unchanged. */
  changed: number;
  unmodified: number;
  dumps: Array<{ engine: string; database: string; bytes: number }>;
}

const pct = (n: number): string => `${Math.round(n * 1000) / 10}%`;
const count = (n: number): string => n.toLocaleString("en-US");

type Baseline = { snapshotId: string; at: string; record: RunRecord };

/** The reasons `now` is suspicious against `before`; none when it is not. */
export function judge(guard: Exclude<Guard, false>, before: RunRecord, now: SavedFigures): string[] {
  const reasons: string[] = [];
  const fell = (was: number, is: number) => was > 0 && is < was * (1 - guard.shrink);
  const files = before.totalFiles ?? 0;
  const bytes = before.totalBytes ?? 0;
  if (fell(files, now.files))
    reasons.push(`files fell from ${count(files)} to ${count(now.files)} (-${pct(1 - now.files / files)})`);
  if (fell(bytes, now.bytes))
    reasons.push(
      `bytes fell from ${formatBytes(bytes)} to ${formatBytes(now.bytes)} (-${pct(1 - now.bytes / bytes)})`,
    );
  const compared = now.changed + now.unmodified;
  if (compared >= guard.minFiles && now.changed > compared * guard.changed)
    reasons.push(
      `${count(now.changed)} of ${count(compared)} files changed content (${pct(now.changed / compared)}): what encrypting them looks like`,
    );
  const dumpsBefore = dumpBytes(before);
  for (const d of now.dumps) {
    const was = dumpsBefore.get(`${d.engine} ${d.database}`);
    if (was !== undefined && fell(was, d.bytes))
      reasons.push(
        `the ${d.engine} dump of ${d.database} fell from ${formatBytes(was)} to ${formatBytes(d.bytes)}`,
      );
  }
  return reasons;
}

function dumpBytes(r: RunRecord): Map<string, number> {
  const parsed = z
    .array(z.object({ engine: z.string(), database: z.string(), bytes: z.number() }))
    .safeParse(r.details?.dumps);
  return new Map((parsed.success ? parsed.data : []).map((d) => [`${d.engine} ${d.database}`, d.bytes]));
}

/** The suspicion recorded with a snapshot run, if any. */
export function suspicionOf(r: RunRecord): Suspicion | undefined {
  const parsed = suspicionSchema.safeParse(r.details?.suspicious);
  return parsed.success ? parsed.data : undefined;
}

const acceptanceSchema = z.object({
  version: z.literal(1),
  host: z.string(),
  snapshotId: z.string(),
  acceptedAt: z.string(),
  by: z.string(),
});

const acceptPrefix = (host: string): string => `accepted/${host}/`;

async function acceptedIds(catalog: CatalogStore, host: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const key of await catalog.list(acceptPrefix(host))) {
    const a = await readCatalogJson(catalog, key, acceptanceSchema);
    if (a && a.host === host && key === `${acceptPrefix(host)}${a.snapshotId}.json`) ids.add(a.snapshotId);
  }
  return ids;
}

export interface GuardState {
  /** The newest snapshot that is not suspicious, or was accepted: what the next one is compared with. */
  baseline: Baseline | undefined;
  /** Suspicious snapshots newer than the baseline, newest first: retention waits while there is one. */
  pending: Array<{ record: RunRecord; suspicion: Suspicion }>;
}

/**
 * Walks the host's succeeded snapshots from the newest back to the first good (or accepted) one. Acceptances
 * are listed only when a suspicious snapshot is met: most hosts never have one.
 */
export async function guardState(history: HostHistory): Promise<GuardState> {
  let accepted: Set<string> | undefined;
  const pending: GuardState["pending"] = [];
  for await (const record of history.ends("snapshot", { succeeded: true, firstPage: 2 })) {
    if (!record.snapshotId) continue;
    const suspicion = suspicionOf(record);
    accepted ??= suspicion ? await acceptedIds(history.catalog, history.host) : undefined;
    if (suspicion && !accepted?.has(record.snapshotId)) {
      pending.push({ record, suspicion });
      continue;
    }
    return {
      baseline: { snapshotId: record.snapshotId, at: record.finishedAt ?? record.startedAt, record },
      pending,
    };
  }
  return { baseline: undefined, pending };
}

/** Judges a snapshot just saved against the host's baseline; undefined when it is not suspicious. */
export async function guardSnapshot(
  catalog: CatalogStore,
  host: string,
  guard: Guard,
  now: SavedFigures,
): Promise<Suspicion | undefined> {
  if (guard === false) return undefined;
  const { baseline } = await guardState(new HostHistory(catalog, host));
  if (!baseline) return undefined;
  const reasons = judge(guard, baseline.record, now);
  if (reasons.length === 0) return undefined;
  return {
    reasons,
    against: {
      snapshotId: baseline.snapshotId,
      at: baseline.at,
      files: baseline.record.totalFiles ?? 0,
      bytes: baseline.record.totalBytes ?? 0,
    },
    files: now.files,
    bytes: now.bytes,
    changedFiles: now.changed,
  };
}

/** What a person runs when the change was intended. */
export const acceptHint = (host: string, snapshotId: string): string =>
  `If the change was intended, run \`lifeboat accept --host ${host} --snapshot ${snapshotId.slice(0, 8)}\`; until then retention keeps every snapshot. If it was not, the earlier snapshots are intact: \`lifeboat snapshots --host ${host}\` lists them, \`lifeboat restore --host ${host} --snapshot ID --target DIR\` brings one back.`;

/** Retention's check: refuses while a suspicious snapshot waits for a person. */
export async function assertNothingSuspicious(catalog: CatalogStore, host: string): Promise<void> {
  const newest = (await guardState(new HostHistory(catalog, host))).pending[0];
  if (!newest?.record.snapshotId) return;
  throw new LifeboatError(
    "SNAPSHOT_SUSPICIOUS",
    `retention of ${host} waits: snapshot ${newest.record.snapshotId.slice(0, 8)} is suspicious (${newest.suspicion.reasons.join("; ")})`,
    { hint: acceptHint(host, newest.record.snapshotId), details: { suspicion: newest.suspicion } },
  );
}

/** `lifeboat accept`: the person says the suspicious snapshot (and those before it) is the data as it should be. */
export async function acceptSnapshot(
  catalog: CatalogStore,
  host: string,
  snapshot: string,
): Promise<{ snapshotId: string; suspicion: Suspicion }> {
  const { pending } = await guardState(new HostHistory(catalog, host));
  const matches = pending.filter((p) => p.record.snapshotId?.startsWith(snapshot));
  const found = matches[0];
  if (snapshot.length < 8 || matches.length !== 1 || !found?.record.snapshotId) {
    throw new LifeboatError(
      "USAGE",
      pending.length === 0
        ? `${host} has no suspicious snapshot waiting`
        : `${snapshot} is not one of ${host}'s suspicious snapshots waiting (${pending.map((p) => p.record.snapshotId?.slice(0, 8)).join(", ")})`,
      { hint: `Name one with at least 8 characters of its id; \`lifeboat status --host ${host}\` shows it.` },
    );
  }
  const snapshotId = found.record.snapshotId;
  await catalog.put(
    `${acceptPrefix(host)}${snapshotId}.json`,
    JSON.stringify({
      version: 1,
      host,
      snapshotId,
      acceptedAt: new Date().toISOString(),
      by: `${userInfo().username}@${hostname()}`,
    }),
  );
  return { snapshotId, suspicion: found.suspicion };
}
