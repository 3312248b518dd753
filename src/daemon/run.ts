// `lifeboat daemon`: loads the policies and runbooks, schedules their jobs, catches up what was missed, runs
// the watchdog, serves /healthz and /metrics; SIGHUP reloads (an invalid reload keeps the old set and says why);
// the shutdown signal stops scheduling and gives running work its grace period.
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { mailAlert } from "../mail/notify.js";
import { type Policy, requireValidPolicies } from "../policy/load.js";
import { type Runbook, requireRunbook, runbookFileOf } from "../runbook/load.js";
import { removeExpiredStages } from "../stage/stages.js";
import { resolveToken, startHttp } from "./http.js";
import { buildJobs } from "./jobs.js";
import { releaseMemory } from "./memory.js";
import { DaemonMetrics } from "./metrics.js";
import { Scheduler } from "./scheduler.js";
import { FleetView } from "./view.js";
import { type WatchdogResult, watchdogRound } from "./watchdog.js";

/** How long the daemon trusts what it knows of a host that none of its own runs touched. */
const VIEW_REFRESH_SECONDS = 3600;
/** A stale host's runs by others (a person's CLI, another controller) are noticed within this; the daemon's own at once. */
const STALE_PROBE_SECONDS = 300;

interface Loaded {
  config: LifeboatConfig;
  policies: Policy[];
  runbooks: Map<string, Runbook>;
}

async function load(loadConfig: () => Promise<LifeboatConfig>): Promise<Loaded> {
  const config = await loadConfig();
  const policies = await requireValidPolicies(config);
  const runbooks = new Map<string, Runbook>();
  for (const p of policies)
    if (existsSync(runbookFileOf(config, p))) runbooks.set(p.host, await requireRunbook(config, p));
  return { config, policies, runbooks };
}

const WATCHDOG_REALERT_MS = 24 * 3600 * 1000;
/** How long the scheduler must have been idle before the daemon gives back the memory its runs took. */
const IDLE_RELEASE_MS = 10_000;

export interface DaemonOptions {
  loadConfig: () => Promise<LifeboatConfig>;
  logger: Logger;
  /** Aborted when the daemon should stop (SIGTERM, SIGINT). */
  shutdown: AbortSignal;
  /** Called once it listens, with the address (tests listen on port 0). */
  onListening?: (address: AddressInfo) => void;
}

export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { logger } = options;
  let idleRelease: NodeJS.Timeout | undefined;
  let current = await load(options.loadConfig);
  const metrics = new DaemonMetrics();
  const scheduler = new Scheduler({
    concurrency: current.config.concurrency,
    retryWindowSeconds: current.config.daemon.retryWindowSeconds,
    retryDelaySeconds: current.config.daemon.retryDelaySeconds,
    logger,
    onIdle: () => {
      // Once the runs have stopped coming for a while, not after each of a burst of short ones.
      clearTimeout(idleRelease);
      idleRelease = setTimeout(() => scheduler.running === 0 && releaseMemory(), IDLE_RELEASE_MS).unref();
    },
  });
  // What the daemon knows of its hosts, kept between watchdog rounds (see daemon/view.ts).
  const view = new FleetView(VIEW_REFRESH_SECONDS, STALE_PROBE_SECONDS);
  const jobsOf = (l: Loaded) =>
    buildJobs({ config: l.config, metrics, logger, view }, l.policies, l.runbooks);
  let jobs = jobsOf(current);
  scheduler.schedule(jobs);

  const reload = () => {
    load(options.loadConfig).then(
      (next) => {
        current = next;
        jobs = jobsOf(next);
        scheduler.schedule(jobs);
        logger.info({ jobs: jobs.length, hosts: next.policies.length }, "reloaded policies and runbooks");
      },
      (err: unknown) =>
        logger.error(
          { error: err instanceof LifeboatError ? err.message : String(err) },
          "reload failed: keeping the policies and runbooks loaded before",
        ),
    );
  };
  // From the start: a reload during the catch-up (systemd reloads whenever asked) must not kill the daemon.
  process.on("SIGHUP", reload);

  let lastWatchdog: WatchdogResult | undefined;
  let watchdogError: string | undefined;
  const startedAt = Date.now();
  const watchdogMs = current.config.daemon.watchdogSeconds * 1000;
  const token = await resolveToken(current.config.daemon.token);
  const server = await startHttp(
    current.config.daemon.listen,
    metrics,
    {
      problem: () => {
        if (watchdogError) return `the watchdog failed: ${watchdogError}`;
        const since = lastWatchdog ? Date.now() - Date.parse(lastWatchdog.at) : Date.now() - startedAt;
        return since > 3 * watchdogMs ? "the watchdog has not run for three intervals" : undefined;
      },
      details: () => ({
        jobs: jobs.length,
        running: scheduler.running,
        hosts: current.policies.length,
        lastWatchdog,
      }),
    },
    token,
  );
  const address = server.address() as AddressInfo;
  logger.info(
    { jobs: jobs.map((j) => `${j.id} (${j.cron})`), listen: `${address.address}:${address.port}` },
    "daemon started",
  );
  options.onListening?.(address);

  let watchdogAlertedAt = 0;
  let watchdogBusy = false;
  const watchdog = async () => {
    // A round slowed by unreachable storage must not be joined by the next one.
    if (watchdogBusy) return;
    watchdogBusy = true;
    try {
      lastWatchdog = await watchdogRound(
        { config: current.config, metrics, logger, view },
        current.policies,
        current.runbooks,
      );
      // Staged hosts past their TTL go; one that cannot is logged and tried again next round.
      await removeExpiredStages(current.config, current.policies, logger);
      if (watchdogError) logger.info("the watchdog works again");
      watchdogError = undefined;
      metrics.watchdogRuns.inc({ result: "ok" });
    } catch (err) {
      const firstFailure = watchdogError === undefined;
      watchdogError = (err as Error).message;
      metrics.watchdogRuns.inc({ result: "failed" });
      logger.error({ error: watchdogError }, "the watchdog failed");
      // Its own failure is an alert too (a silent watchdog is how backups stop unnoticed): when it starts, then
      // daily while it lasts; one every round would bury everything else.
      if (!firstFailure && Date.now() - watchdogAlertedAt < WATCHDOG_REALERT_MS) return;
      watchdogAlertedAt = Date.now();
      await mailAlert(
        current.config,
        {
          host: "lifeboat",
          what: "watchdog failed",
          code: "WATCHDOG_FAILED",
          message: `The daemon's watchdog cannot check the hosts' freshness: ${watchdogError}`,
          hint:
            "Until it works again nobody is told about stale hosts or missed drills. Check that the storage is " +
            "reachable (`lifeboat doctor`) and the daemon's log; its /healthz answers 503 while this lasts.",
        },
        [],
        logger,
      );
    } finally {
      watchdogBusy = false;
      // A round reads every host it does not know well enough: the memory it took is garbage now.
      if (scheduler.running === 0) releaseMemory();
    }
  };
  const caughtUp = await scheduler.catchUp(jobs);
  logger.info({ started: caughtUp }, "catch-up done");
  const timer = setInterval(() => void watchdog(), watchdogMs);
  void watchdog();

  try {
    await new Promise<void>((resolve) => {
      if (options.shutdown.aborted) resolve();
      options.shutdown.addEventListener("abort", () => resolve(), { once: true });
    });
    const grace = current.config.daemon.shutdownGraceSeconds;
    logger.info(
      { running: scheduler.running, graceSeconds: grace },
      "stopping: no new runs; running work may finish",
    );
    clearInterval(timer);
    await scheduler.stop(grace);
  } finally {
    process.off("SIGHUP", reload);
    clearInterval(timer);
    clearTimeout(idleRelease);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    logger.info("daemon stopped");
  }
}
