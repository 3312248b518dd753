// The watchdog: every few minutes, hosts whose newest good snapshot is older than their RPO, and scheduled
// drills that did not run, become alerts (once each) and metrics; pending mail is retried.
import cronParser from "cron-parser";
import type { Logger } from "pino";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { alertStaleHosts, mailAlert } from "../mail/notify.js";
import { flushOutbox } from "../mail/outbox.js";
import type { Policy } from "../policy/load.js";
import type { Runbook } from "../runbook/load.js";
import type { DaemonMetrics } from "./metrics.js";
import { FleetView } from "./view.js";

/** A scheduled drill counts as missing once this long has passed since its time without one starting. */
const DRILL_GRACE_SECONDS = 3600;

export interface WatchdogResult {
  at: string;
  stale: string[];
  overdueDrills: string[];
  /** Hosts read from the catalog this round (the others were known). */
  hostsRead: number;
  /** Stale hosts known already, only asked whether anything was written since (one listing each). */
  hostsProbed: number;
}

export async function watchdogRound(
  ctx: {
    config: LifeboatConfig;
    metrics: DaemonMetrics;
    logger?: Logger | undefined;
    /** What the daemon already knows; without one every host is read. */
    view?: FleetView | undefined;
  },
  policies: readonly Policy[],
  runbooks: ReadonlyMap<string, Runbook>,
  now = new Date(),
): Promise<WatchdogResult> {
  const { config, metrics, logger } = ctx;
  const view = ctx.view ?? new FleetView(0);
  const hosts = await view.hosts(config, policies, now, (h) => runbooks.get(h)?.drillSchedule !== undefined);
  const statuses = hosts.map((h) => h.status);
  for (const s of statuses) metrics.hostStale(s.host, !s.fresh);
  const stale = statuses.filter((s) => !s.fresh).map((s) => s.host);
  if (stale.length)
    logger?.warn({ hosts: stale }, "hosts are stale: their newest good snapshot is older than their RPO");
  await alertStaleHosts(config, statuses, logger);

  const overdueDrills: string[] = [];
  for (const { policy, lastDrillAt } of hosts) {
    const schedule = runbooks.get(policy.host)?.drillSchedule;
    if (!schedule) continue;
    const due = cronParser
      .parseExpression(schedule, { currentDate: new Date(now.getTime() - DRILL_GRACE_SECONDS * 1000) })
      .prev()
      .toDate();
    if (lastDrillAt && new Date(lastDrillAt) >= due) continue;
    overdueDrills.push(policy.host);
    const catalog = catalogFor(config, policy.repository);
    const marker = `mail/alerts/${policy.host}/drill-${due.toISOString().replace(/[:.]/g, "-")}.json`;
    if (await catalog.get(marker)) continue;
    logger?.warn({ host: policy.host, due: due.toISOString() }, "a scheduled drill did not run");
    const delivery = await mailAlert(
      config,
      {
        host: policy.host,
        what: "scheduled drill did not run",
        code: "DRILL_MISSED",
        message: `The drill of ${policy.host} due at ${due.toISOString()} has not started${lastDrillAt ? `; the last one started at ${lastDrillAt}` : "; there has never been one"}.`,
        hint:
          "Check that `lifeboat daemon` runs (its /healthz) and its log; run `lifeboat drill --host " +
          policy.host +
          "` by hand.",
      },
      policy.notify,
      logger,
    );
    if (delivery !== "off")
      await catalog.put(marker, JSON.stringify({ host: policy.host, due: due.toISOString(), delivery }));
  }
  await flushOutbox(config, logger);
  return {
    at: now.toISOString(),
    stale,
    overdueDrills,
    hostsRead: view.lastReads,
    hostsProbed: view.lastProbes,
  };
}
