// `lifeboat check`: restic check reading one slice of the data per run (--read-data-subset n/t), so the
// whole repository is read over t runs. The next slice comes from the catalog: nothing local to lose.
import type { Logger } from "pino";
import { HostHistory } from "../catalog/history.js";
import { recordRun } from "../catalog/records.js";
import { type CatalogStore, catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { isLifeboatError, LifeboatError } from "../errors.js";
import { type Policy, policyForHost, requireValidPolicies } from "../policy/load.js";
import { openPolicyRepository } from "../storage/repository.js";

export interface CheckOptions {
  config: LifeboatConfig;
  host: string;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  /** Who started the run: a person (default) or the daemon's schedule; kept in the run record. */
  trigger?: "manual" | "schedule" | undefined;
}

export interface CheckOutcome {
  host: string;
  slice: number;
  slices: number;
  /** "n/t" as given to restic. */
  subset: string;
  resticVersion: string;
}

/**
 * The slice after the last successful check's, wrapping at t. A failed check does not advance: the same
 * slice is read again until it passes, so damage keeps being reported until it is repaired.
 */
export async function nextSlice(catalog: CatalogStore, host: string, slices: number): Promise<number> {
  const last = await new HostHistory(catalog, host).newest("check", {
    outcome: (o) => o !== "interrupted" && o !== "skipped",
  });
  const d = last?.details as { slice?: number; slices?: number } | undefined;
  if (!last || d?.slices !== slices || typeof d.slice !== "number") return 1;
  return last.outcome === "succeeded" ? (d.slice % slices) + 1 : d.slice;
}

export async function check(options: CheckOptions): Promise<CheckOutcome> {
  const policy = await policyForHost(options.config, options.host);
  return checkPolicy(options, policy);
}

async function checkPolicy(options: CheckOptions, policy: Policy): Promise<CheckOutcome> {
  const catalog = catalogFor(options.config, policy.repository);
  const slices = policy.checkSlices;
  const slice = await nextSlice(catalog, policy.host, slices);
  const outcome = { host: policy.host, slice, slices, subset: `${slice}/${slices}` };
  return recordRun(
    {
      catalog,
      trigger: options.trigger,
      host: policy.host,
      kind: "check",
      logger: options.logger,
      known: { details: { slice, slices } },
    },
    async () => {
      const opened = await openPolicyRepository(options.config, policy, {
        logger: options.logger,
        signal: options.signal,
      });
      options.logger?.info({ host: policy.host, subset: outcome.subset }, "check started");
      try {
        await opened.repo.check(outcome.subset);
      } catch (err) {
        if (!isLifeboatError(err) || err.code !== "RESTIC_FAILED") throw err;
        throw new LifeboatError(
          "REPOSITORY_DAMAGED",
          `${policy.host}'s repository has errors (data slice ${outcome.subset}): ${err.message}`,
          {
            hint:
              "Do not prune it. Take a fresh snapshot now (data still on the host is stored again), then repair with " +
              "restic (`restic check --read-data-subset " +
              outcome.subset +
              "` shows the damage; see restic's `repair` commands). The next check reads this slice again.",
            details: { ...outcome, ...err.details },
            cause: err,
          },
        );
      }
      return { ...outcome, resticVersion: opened.resticVersion };
    },
    (o) => ({ resticVersion: o.resticVersion }),
  );
}

export interface HostCheckResult {
  host: string;
  /** The slice read, when the check got that far. */
  subset: string | undefined;
  error: { code: string; message: string; exitCode: number } | undefined;
}

/** Checks every host (or one); one host's failure does not stop the others. */
export async function checkAll(
  options: Omit<CheckOptions, "host"> & { host?: string | undefined },
): Promise<HostCheckResult[]> {
  const policies = options.host
    ? [await policyForHost(options.config, options.host)]
    : await requireValidPolicies(options.config);
  const results: HostCheckResult[] = [];
  for (const policy of policies) {
    try {
      const o = await checkPolicy({ ...options, host: policy.host }, policy);
      results.push({ host: policy.host, subset: o.subset, error: undefined });
    } catch (err) {
      if (!isLifeboatError(err)) throw err;
      if (err.code === "INTERRUPTED") throw err;
      results.push({
        host: policy.host,
        subset: typeof err.details?.subset === "string" ? err.details.subset : undefined,
        error: { code: err.code, message: err.message, exitCode: err.exitCode },
      });
    }
  }
  return results;
}
