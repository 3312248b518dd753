// `lifeboat status`: per host, what the catalog says. Nothing comes from local state, so a fresh controller
// with the same config and credentials prints the same thing.

import pLimit from "p-limit";
import { HostHistory } from "../catalog/history.js";
import type { RunRecord } from "../catalog/records.js";
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
  const history = new HostHistory(catalogFor(config, policy.repository), policy.host);
  const to = config.targets.get(policy.repository)?.replicateTo;
  // Each question is a short listing and a read, whatever the length of the history; asked side by side.
  const [good, last, check, guard, lastCopy] = await Promise.all([
    history.newest("snapshot", { succeeded: true }),
    history.lastRun(),
    history.newest("check"),
    guardState(history),
    to ? history.newest("replicate") : undefined,
  ]);
  let lastRun: RunBrief | undefined;
  if (last?.record) lastRun = brief(last.record);
  else if (last)
    lastRun = {
      id: last.entry.id,
      kind: last.entry.kind,
      startedAt: last.entry.startedAt,
      finishedAt: undefined,
      outcome: "unfinished",
      error: undefined,
    };
  const held = guard.pending[0];
  let copy: HostStatus["copy"];
  if (to) {
    const goodCopy =
      lastCopy?.outcome === "succeeded" ? lastCopy : await history.newest("replicate", { succeeded: true });
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

/** The same status seen at another time: the snapshot's age, freshness and health follow the clock. */
export function statusAt(s: HostStatus, now: Date): HostStatus {
  const good = s.lastGoodSnapshot;
  const ageSeconds = good ? Math.max(0, (now.getTime() - Date.parse(good.at)) / 1000) : undefined;
  const fresh = ageSeconds !== undefined && ageSeconds <= s.rpoSeconds;
  return {
    ...s,
    lastGoodSnapshot: good && ageSeconds !== undefined ? { ...good, ageSeconds } : undefined,
    fresh,
    healthy: fresh && !s.suspicious && (s.lastRun === undefined || s.lastRun.outcome === "succeeded"),
  };
}

/** Hosts asked about at once: each asks a handful of requests side by side, and storage has its limits. */
export const HOSTS_AT_ONCE = 16;

/** The status of each policy's host, `HOSTS_AT_ONCE` at a time, in the policies' order. */
export function statusOf(
  config: LifeboatConfig,
  policies: readonly Policy[],
  now = new Date(),
): Promise<HostStatus[]> {
  const limit = pLimit(HOSTS_AT_ONCE);
  return Promise.all(policies.map((p) => limit(() => hostStatus(config, p, now))));
}

export async function status(config: LifeboatConfig, host?: string, now = new Date()): Promise<HostStatus[]> {
  const policies = host ? [await policyForHost(config, host)] : await requireValidPolicies(config);
  return statusOf(config, policies, now);
}
