// The daemon's view of its hosts (daemon/view.ts): a watchdog round reads from the catalog only the hosts it
// does not know, those a run of its own touched, those it knows for too long, and the stale ones.
import { expect } from "vitest";
import { putRecord } from "../../src/catalog/records.js";
import { type CatalogStore, catalogFor } from "../../src/catalog/store.js";
import { DaemonMetrics } from "../../src/daemon/metrics.js";
import { FleetView } from "../../src/daemon/view.js";
import { watchdogRound } from "../../src/daemon/watchdog.js";
import { requireValidPolicies } from "../../src/policy/load.js";
import { test } from "../helpers/workspace.js";

async function snapshotAt(catalog: CatalogStore, host: string, at: Date): Promise<void> {
  const startedAt = at.toISOString();
  const id = Math.floor(Math.random() * 2 ** 40).toString(16);
  const common = {
    version: 1,
    id,
    host,
    kind: "snapshot",
    trigger: "schedule",
    startedAt,
    lifeboatVersion: "0",
  } as const;
  await putRecord(catalog, { ...common, phase: "start", outcome: "running" });
  await putRecord(catalog, {
    ...common,
    phase: "end",
    outcome: "succeeded",
    finishedAt: startedAt,
    snapshotId: id.padEnd(64, "0"),
  } as Parameters<typeof putRecord>[1]);
}

test("a round reads only what it does not know: new, touched, too old, or stale hosts with news", async ({
  ws,
}) => {
  for (let i = 0; i < 5; i++)
    await ws.writePolicy(`h${i}.yaml`, `host: h${i}\nrpo: 1h\nirreplaceable: [/srv]\n`);
  const config = await ws.config();
  const policies = await requireValidPolicies(config);
  const catalog = catalogFor(config, "primary");
  const start = new Date();
  // h0–h3 snapshotted a minute ago; h4 two hours ago (stale against its 1h RPO).
  for (let i = 0; i < 4; i++) await snapshotAt(catalog, `h${i}`, new Date(start.getTime() - 60_000));
  await snapshotAt(catalog, "h4", new Date(start.getTime() - 2 * 3600_000));

  // Stale hosts are asked for news at most every 5 minutes.
  const view = new FleetView(3600, 300);
  const round = (minutes: number) =>
    watchdogRound(
      { config, metrics: new DaemonMetrics(), view },
      policies,
      new Map(),
      new Date(start.getTime() + minutes * 60_000),
    );

  const first = await round(0);
  expect(first.stale).toEqual(["h4"]);
  expect(first.hostsRead).toBe(5);
  // Nothing happened: nothing is read; the stale host is only asked whether anything was written since.
  expect(await round(5)).toMatchObject({ hostsRead: 0, hostsProbed: 1, stale: ["h4"] });

  // Asked 5 minutes ago: not again yet.
  expect(await round(9)).toMatchObject({ hostsRead: 0, hostsProbed: 0, stale: ["h4"] });
  // A run of the daemon's own ended for h2 (and wrote a snapshot): h2 is read at once; h4 is asked again.
  await snapshotAt(catalog, "h2", new Date(start.getTime() + 6 * 60_000));
  view.touched("h2");
  expect(await round(10)).toMatchObject({ hostsRead: 1, hostsProbed: 1 });

  // Someone else (another controller, a person's CLI) snapshotted h4: the next probe sees it, h4 is read and fresh.
  await snapshotAt(catalog, "h4", new Date(start.getTime() + 11 * 60_000));
  expect(await round(12)).toMatchObject({ hostsRead: 0, hostsProbed: 0, stale: ["h4"] });
  expect(await round(15)).toMatchObject({ hostsRead: 1, hostsProbed: 1, stale: [] });

  // Ages follow the clock without a read: 59.5 minutes on, h0, h1 and h3 (snapshotted 60.5 minutes before) are
  // stale, though read less than the refresh time (an hour) ago.
  const later = await round(59.5);
  expect(later.stale.sort()).toEqual(["h0", "h1", "h3"]);
  // They are asked whether anything was written since (nothing was: none is read), h2 and h4 are known.
  expect(later).toMatchObject({ hostsRead: 0, hostsProbed: 3 });
  // After the refresh time every host is read again.
  expect((await round(200)).hostsRead).toBe(5);
});
