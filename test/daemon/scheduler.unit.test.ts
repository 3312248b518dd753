// The scheduler's skipped ticks (daemon/scheduler.ts): a host busy for many ticks costs two skipped records, the
// first at once and one counting the rest when the host is free, not one record per tick.
import { expect, test } from "vitest";
import { type Job, Scheduler } from "../../src/daemon/scheduler.js";

test("ticks that find the host busy: the first recorded at once, the rest as one record when it is free", async () => {
  const scheduler = new Scheduler({ concurrency: 1, retryWindowSeconds: 0, retryDelaySeconds: 0 });
  let finish = () => {};
  const skipped: Array<{ reason: string; ticks: number | undefined }> = [];
  const job: Job = {
    id: "snapshot:web1",
    kind: "snapshot",
    host: "web1",
    cron: "* * * * *",
    run: () =>
      new Promise<void>((resolve) => {
        finish = resolve;
      }),
    onSkipped: async (reason, ticks) => {
      skipped.push({ reason, ticks });
    },
  };
  scheduler.trigger(job);
  for (let i = 0; i < 5; i++) scheduler.trigger(job);
  await new Promise((r) => setImmediate(r));
  expect(skipped).toEqual([{ reason: "the host's previous run was still going", ticks: undefined }]);

  finish();
  await scheduler.stop(5);
  expect(skipped).toEqual([
    { reason: "the host's previous run was still going", ticks: undefined },
    { reason: "the host's previous run was still going (4 more scheduled times)", ticks: 4 },
  ]);
});

test("a new busy spell starts counting again", async () => {
  const scheduler = new Scheduler({ concurrency: 1, retryWindowSeconds: 0, retryDelaySeconds: 0 });
  const ticks: number[] = [];
  let finish = () => {};
  const job: Job = {
    id: "snapshot:db1",
    kind: "snapshot",
    host: "db1",
    cron: "* * * * *",
    run: () => new Promise<void>((resolve) => (finish = resolve)),
    onSkipped: async (_reason, n) => {
      ticks.push(n ?? 1);
    },
  };
  for (const busyTicks of [1, 3]) {
    scheduler.trigger(job);
    for (let i = 0; i < busyTicks; i++) scheduler.trigger(job);
    await new Promise((r) => setImmediate(r));
    finish();
    while (scheduler.running > 0) await new Promise((r) => setImmediate(r));
  }
  // Spell one: its one tick. Spell two: the first tick, then the other two as one record.
  expect(ticks).toEqual([1, 1, 2]);
});
