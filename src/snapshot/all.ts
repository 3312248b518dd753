// `lifeboat snapshot --all`: every host with a policy, a few at a time; one slow or failing host holds up only
// its own slot, never the others' results.
import pLimit from "p-limit";
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { ExitCode, isLifeboatError, LifeboatError } from "../errors.js";
import { requireValidPolicies } from "../policy/load.js";
import { type SnapshotAndRetainOutcome, snapshotAndRetain } from "./and-retain.js";

export type HostSnapshotResult =
  | { host: string; ok: true; startedAt: string; finishedAt: string; outcome: SnapshotAndRetainOutcome }
  | { host: string; ok: false; startedAt: string; finishedAt: string; error: LifeboatError };

export interface SnapshotAllOptions {
  config: LifeboatConfig;
  prune: boolean;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  /** Called as each host finishes, in the order they finish. */
  onResult?: (result: HostSnapshotResult) => void;
}

/** Snapshots every host (each with its own run record); the results come back in policy order. */
export async function snapshotAll(options: SnapshotAllOptions): Promise<HostSnapshotResult[]> {
  const policies = await requireValidPolicies(options.config);
  const limit = pLimit(options.config.concurrency);
  options.logger?.info(
    { hosts: policies.length, concurrency: options.config.concurrency },
    "snapshotting every host",
  );
  return Promise.all(
    policies.map((policy) =>
      limit(async (): Promise<HostSnapshotResult> => {
        const startedAt = new Date().toISOString();
        let result: HostSnapshotResult;
        try {
          const outcome = await snapshotAndRetain({ ...options, host: policy.host });
          result = { host: policy.host, ok: true, startedAt, finishedAt: new Date().toISOString(), outcome };
        } catch (err) {
          const error = isLifeboatError(err)
            ? err
            : new LifeboatError("INTERNAL", String(err), { cause: err });
          result = { host: policy.host, ok: false, startedAt, finishedAt: new Date().toISOString(), error };
        }
        options.onResult?.(result);
        return result;
      }),
    ),
  );
}

/**
 * The exit status for a fleet run: 0 when every host succeeded; the failures' shared status (a suspicious
 * snapshot counts as 9, like status's "needs attention"); else 1.
 */
export function fleetExitCode(results: readonly HostSnapshotResult[]): number {
  const codes = new Set(
    results.flatMap((r) => (r.ok ? (r.outcome.suspicious ? [ExitCode.degraded] : []) : [r.error.exitCode])),
  );
  if (codes.size === 0) return 0;
  return codes.size === 1 ? ([...codes][0] ?? 1) : 1;
}
