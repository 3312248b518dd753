// The daemon's jobs, from the config, the policies and the runbooks: a snapshot (then retention) per policy on
// its schedule, a repository check per host, a drill per runbook with a drill schedule, the weekly digest.

import type { Logger } from "pino";
import { prepareScheduledDrill } from "../bake/schedule.js";
import { HostHistory } from "../catalog/history.js";
import { type RunKind, recordSkipped } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { isLifeboatError } from "../errors.js";
import { mailDigest } from "../mail/notify.js";
import type { Policy } from "../policy/load.js";
import { failedReport, recoverHost } from "../recovery/run.js";
import { buildDigest } from "../report/digest.js";
import type { Runbook } from "../runbook/load.js";
import { snapshotAndRetain } from "../snapshot/and-retain.js";
import { check } from "../verify/check.js";
import type { DaemonMetrics } from "./metrics.js";
import type { Job } from "./scheduler.js";
import type { FleetView } from "./view.js";

export interface JobContext {
  config: LifeboatConfig;
  metrics: DaemonMetrics;
  logger?: Logger | undefined;
  /** Told of every run that ends, so the watchdog reads that host again. */
  view?: FleetView | undefined;
}

async function lastSucceeded(
  config: LifeboatConfig,
  policy: Policy,
  kind: RunKind,
): Promise<Date | undefined> {
  const history = new HostHistory(catalogFor(config, policy.repository), policy.host);
  const record = await history.newest(kind, { succeeded: true });
  return record ? new Date(record.startedAt) : undefined;
}

/** Runs `fn`, feeding the metrics with its time and outcome; rethrows so the scheduler can retry. */
async function measured(
  ctx: JobContext,
  host: string,
  kind: string,
  fn: () => Promise<number | undefined>,
): Promise<void> {
  const started = Date.now();
  try {
    const bytesAdded = await fn();
    ctx.metrics.succeeded(host, kind, (Date.now() - started) / 1000, bytesAdded);
  } catch (err) {
    ctx.metrics.failed(
      host,
      kind,
      isLifeboatError(err) ? err.code : "INTERNAL",
      (Date.now() - started) / 1000,
    );
    throw err;
  } finally {
    ctx.view?.touched(host);
  }
}

export function buildJobs(
  ctx: JobContext,
  policies: readonly Policy[],
  runbooks: ReadonlyMap<string, Runbook>,
): Job[] {
  const { config } = ctx;
  const skipped = (policy: Policy, kind: RunKind) => async (reason: string, ticks?: number) => {
    ctx.metrics.skippedRun(policy.host, kind, ticks ?? 1);
    await recordSkipped(catalogFor(config, policy.repository), { host: policy.host, kind, reason, ticks });
  };
  const jobs: Job[] = [];
  for (const policy of policies) {
    jobs.push({
      id: `snapshot:${policy.host}`,
      kind: "snapshot",
      host: policy.host,
      cron: policy.schedule,
      run: (signal) =>
        measured(ctx, policy.host, "snapshot", async () => {
          const o = await snapshotAndRetain({
            config,
            host: policy.host,
            prune: true,
            trigger: "schedule",
            logger: ctx.logger,
            signal,
          });
          return o.bytesAdded;
        }),
      lastSucceeded: () => lastSucceeded(config, policy, "snapshot"),
      onSkipped: skipped(policy, "snapshot"),
    });
    jobs.push({
      id: `check:${policy.host}`,
      kind: "check",
      host: policy.host,
      cron: config.daemon.checkSchedule,
      run: (signal) =>
        measured(ctx, policy.host, "check", async () => {
          await check({ config, host: policy.host, trigger: "schedule", logger: ctx.logger, signal });
          return undefined;
        }),
      onSkipped: skipped(policy, "check"),
    });
    const runbook = runbooks.get(policy.host);
    if (runbook?.drillSchedule) {
      jobs.push({
        id: `drill:${policy.host}`,
        kind: "drill",
        host: policy.host,
        cron: runbook.drillSchedule,
        run: (signal) =>
          measured(ctx, policy.host, "drill", async () => {
            try {
              // A baked host alternates between its image and code, and is baked again after a runbook change.
              const build = await prepareScheduledDrill({
                config,
                policy,
                runbook,
                logger: ctx.logger,
                signal,
              });
              // The runbook the daemon loaded (and validated) at start or reload, not the file as it is now.
              const r = await recoverHost({
                config,
                host: policy.host,
                mode: "drill",
                build,
                runbook,
                trigger: "schedule",
                logger: ctx.logger,
                signal,
              });
              if (!r.dryRun) ctx.metrics.drill(r.report);
            } catch (err) {
              const report = failedReport(err);
              if (report) ctx.metrics.drill(report);
              throw err;
            }
            return undefined;
          }),
        lastSucceeded: () => lastSucceeded(config, policy, "drill"),
        onSkipped: skipped(policy, "drill"),
      });
    }
  }
  if (config.mail) {
    jobs.push({
      id: "digest",
      kind: "digest",
      host: undefined,
      cron: config.daemon.digestSchedule,
      run: async () => {
        await mailDigest(config, await buildDigest(config), ctx.logger);
      },
    });
  }
  return jobs;
}
