// The daemon gives back what a burst of work took: releaseMemory collects at once, and the scheduler says
// when its last running job ended (the daemon releases then, and after each watchdog round).
import { expect, test } from "vitest";
import { releaseMemory } from "../../src/daemon/memory.js";
import { type Job, Scheduler } from "../../src/daemon/scheduler.js";

test("releaseMemory collects the garbage a burst of work left, without --expose-gc", () => {
  expect(typeof (globalThis as { gc?: unknown }).gc).toBe("undefined");
  let burst: Array<{ i: number; s: string }> | undefined = Array.from({ length: 400_000 }, (_, i) => ({
    i,
    s: `record ${i}`,
  }));
  expect(burst.length).toBe(400_000);
  const before = process.memoryUsage().heapUsed;
  burst = undefined;
  releaseMemory();
  const after = process.memoryUsage().heapUsed;
  expect(before - after).toBeGreaterThan(16 * 1024 * 1024);
});

test("the scheduler calls onIdle when its last running job ends, not before", async () => {
  const idle: number[] = [];
  const scheduler = new Scheduler({
    concurrency: 2,
    retryWindowSeconds: 0,
    retryDelaySeconds: 0,
    onIdle: () => idle.push(scheduler.running),
  });
  const gates: Array<() => void> = [];
  const job = (host: string): Job => ({
    id: `snapshot:${host}`,
    kind: "snapshot",
    host,
    cron: "0 0 1 1 *",
    run: () => new Promise<void>((resolve) => gates.push(resolve)),
  });
  scheduler.trigger(job("web1"));
  scheduler.trigger(job("db1"));
  await new Promise((r) => setTimeout(r, 20));
  expect(gates).toHaveLength(2);
  gates[0]?.();
  await new Promise((r) => setTimeout(r, 20));
  expect(idle).toEqual([]);
  gates[1]?.();
  await new Promise((r) => setTimeout(r, 20));
  expect(idle).toEqual([0]);
  await scheduler.stop(1);
});
