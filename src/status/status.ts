// `lifeboat status`: per host, what the catalog says. Nothing comes from local state, so a fresh controller
// with the same config and credentials prints the same thing.

import { listRuns, newestRecord, type RunRecord, readRecord } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { type Policy, policyForHost, requireValidPolicies } from "../policy/load.js";
import { guardState } from "../snapshot/guard.js";

export interface RunBrief {
  id: string;
  kind: string;
  startedAt: string;
  finishedAt: string | undefined;
  /** "unfinished": a start record without an end: the run died (or is still going). */
  outcome: RunRecord["outcome"] | "unfinished";
  error: { code: string; message: string } | undefined;
}

export interface HostStatus {
  host: string;
  target: string;
  rpo: string;
  rpoSeconds: number;
  lastGoodSnapshot:
    | { snapshotId: string; at: string; ageSeconds: number; totalBytes?: number; totalFiles?: number }
    | undefined;
  /** The newest good snapshot is younger than the RPO. */
  fresh: boolean;
  lastRun: RunBrief | undefined;
  lastCheck: RunBrief | undefined;
  /** The offsite copy, when the target keeps one: its newest snapshot, from the last copy that succeeded. */
  copy:
    | { target: string; newestAt: string | undefined; copiedAt: string | undefined; lastFailed: boolean }
    | undefined;
  /** The newest snapshot the guard holds for a person (data deleted or encrypted?), until it is accepted. */
  suspicious: { snapshotId: string; at: string; reasons: string[] } | undefined;
  /** fresh, the last run did not fail, and no snapshot is suspicious. */
  healthy: boolean;
}

function brief(r: RunRecord): RunBrief {
  return {
    id: r.id,
    kind: r.kind,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    outcome: r.outcome,
    error: r.error,
  };
}

export async function hostStatus(
  config: LifeboatConfig,
  policy: Policy,
  now = new Date(),
): Promise<HostStatus> {
  const catalog = catalogFor(config, policy.repository);
  const runs = await listRuns(catalog, policy.host);
  const good = await newestRecord(catalog, runs, (r) => r.kind === "snapshot" && r.outcome === "succeeded");
  // The newest run that really ran: a run the daemon skipped (its host was busy) says nothing about the host,
  // and neither does a stage (a copy of it trying a change).
  const own = runs.filter((r) => r.kind !== "stage");
  let last = own.at(-1);
  let lastRun: RunBrief | undefined;
  for (let i = own.length - 1; i >= 0 && last?.endKey; i--) {
    last = own[i];
    const record = last?.endKey ? await readRecord(catalog, last.endKey) : undefined;
    // Skipped runs say nothing, and neither does a record that could not be read (it was warned about).
    if (!record || record.outcome === "skipped") continue;
    lastRun = brief(record);
    break;
  }
  if (!lastRun && last && !last.endKey) {
    lastRun = {
      id: last.id,
      kind: last.kind,
      startedAt: last.startedAt,
      finishedAt: undefined,
      outcome: "unfinished",
      error: undefined,
    };
  }
  const check = await newestRecord(catalog, runs, (r) => r.kind === "check");
  const held = (await guardState(catalog, policy.host, runs)).pending[0];
  const to = config.targets.get(policy.repository)?.replicateTo;
  let copy: HostStatus["copy"];
  if (to) {
    const lastCopy = await newestRecord(catalog, runs, (r) => r.kind === "replicate");
    const goodCopy =
      lastCopy?.outcome === "succeeded"
        ? lastCopy
        : await newestRecord(catalog, runs, (r) => r.kind === "replicate" && r.outcome === "succeeded");
    const newest = goodCopy?.details?.newest as { time?: unknown } | undefined;
    copy = {
      target: to,
      newestAt: typeof newest?.time === "string" ? newest.time : undefined,
      copiedAt: goodCopy?.finishedAt,
      lastFailed: lastCopy !== undefined && lastCopy.outcome !== "succeeded",
    };
  }
  const suspicious = held?.record.snapshotId
    ? {
        snapshotId: held.record.snapshotId,
        at: held.record.finishedAt ?? held.record.startedAt,
        reasons: held.suspicion.reasons,
      }
    : undefined;
  const at = good?.finishedAt ?? good?.startedAt;
  const ageSeconds = at ? Math.max(0, (now.getTime() - Date.parse(at)) / 1000) : undefined;
  const fresh = ageSeconds !== undefined && ageSeconds <= policy.rpoSeconds;
  return {
    host: policy.host,
    target: policy.repository,
    rpo: policy.rpo,
    rpoSeconds: policy.rpoSeconds,
    lastGoodSnapshot:
      good && at && ageSeconds !== undefined
        ? {
            snapshotId: good.snapshotId ?? "",
            at,
            ageSeconds,
            totalBytes: good.totalBytes,
            totalFiles: good.totalFiles,
          }
        : undefined,
    fresh,
    lastRun,
    lastCheck: check ? brief(check) : undefined,
    copy,
    suspicious,
    healthy: fresh && !suspicious && (lastRun === undefined || lastRun.outcome === "succeeded"),
  };
}

export async function status(config: LifeboatConfig, host?: string, now = new Date()): Promise<HostStatus[]> {
  const policies = host ? [await policyForHost(config, host)] : await requireValidPolicies(config);
  return Promise.all(policies.map((p) => hostStatus(config, p, now)));
}
