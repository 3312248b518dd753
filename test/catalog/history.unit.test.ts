// The index of runs (catalog/keys.ts, catalog/history.ts): the newest of a kind and the last run from a
// bounded number of requests, however long the history; old catalogs indexed once; planted entries passed over.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { HostHistory } from "../../src/catalog/history.js";
import { indexedMarker } from "../../src/catalog/keys.js";
import { putRecord, type RunKind, type RunRecord, recordRun, runKey } from "../../src/catalog/records.js";
import { type CatalogStore, openCatalog } from "../../src/catalog/store.js";
import type { LocalTargetConfig } from "../../src/config/load.js";
import { guardState } from "../../src/snapshot/guard.js";

interface Counted extends CatalogStore {
  counts: { get: number; list: number; listPage: number; put: number };
}

/** A catalog in a new directory that counts every request made of it. */
async function countedCatalog(existing?: string): Promise<Counted & { dir: string }> {
  const dir = existing ?? (await mkdtemp(path.join(tmpdir(), "lifeboat-history-")));
  const inner = openCatalog({ type: "local", name: "t", path: dir } as LocalTargetConfig);
  const counts = { get: 0, list: 0, listPage: 0, put: 0 };
  return {
    dir,
    counts,
    get: (k) => {
      counts.get++;
      return inner.get(k);
    },
    list: (p) => {
      counts.list++;
      return inner.list(p);
    },
    listPage: (p, page) => {
      counts.listPage++;
      return inner.listPage(p, page);
    },
    put: (k, b) => {
      counts.put++;
      return inner.put(k, b);
    },
    remove: (k) => inner.remove(k),
  };
}

const DAY = 86_400_000;
const at = (i: number): string => new Date(Date.UTC(2025, 0, 1) + i * DAY).toISOString();

/** A run's end record in the catalog's real format (and its start, unless it was skipped). */
function run(
  i: number,
  kind: RunKind,
  outcome: RunRecord["outcome"],
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    version: 1,
    id: `${kind.slice(0, 2)}${String(i).padStart(10, "0")}`,
    host: "web1",
    kind,
    phase: "end",
    trigger: "schedule",
    startedAt: at(i),
    finishedAt: at(i),
    outcome,
    lifeboatVersion: "0.1.0",
    ...extra,
  };
}

/** A year of nightly snapshots and prunes, a weekly drill, no checks; written as today (indexed) or as before. */
async function nightlyYear(catalog: CatalogStore, options: { indexed: boolean }): Promise<RunRecord[]> {
  const records: RunRecord[] = [];
  for (let d = 0; d < 365; d++) {
    records.push(
      run(d * 3, "snapshot", d === 364 ? "failed" : "succeeded", { snapshotId: `${d}`.padStart(64, "a") }),
    );
    records.push(run(d * 3 + 1, "prune", "succeeded"));
    if (d % 7 === 0) records.push(run(d * 3 + 2, "drill", d === 357 ? "skipped" : "succeeded"));
  }
  for (const r of records) {
    const start = { ...r, phase: "start" as const, outcome: "running" as const };
    if (options.indexed) {
      if (r.outcome !== "skipped") await putRecord(catalog, start);
      await putRecord(catalog, r);
    } else {
      if (r.outcome !== "skipped") await catalog.put(runKey(start), JSON.stringify(start));
      await catalog.put(runKey(r), JSON.stringify(r));
    }
  }
  return records;
}

/** A counted catalog holding an indexed year of web1's history, its counts at zero, and that history. */
async function indexedYear(): Promise<{ catalog: Counted; history: HostHistory }> {
  const catalog = await countedCatalog();
  await nightlyYear(catalog, { indexed: true });
  await catalog.put(indexedMarker("web1"), '{"version":1}');
  catalog.counts.get = catalog.counts.listPage = 0;
  return { catalog, history: new HostHistory(catalog, "web1") };
}

test("a year of history: each question costs a few requests, a missing kind too", async () => {
  const { catalog, history } = await indexedYear();

  const good = await history.newest("snapshot", { succeeded: true });
  expect(good?.snapshotId).toBe("363".padStart(64, "a"));
  const failed = await history.newest("snapshot");
  expect(failed?.outcome).toBe("failed");
  expect(await history.newest("check")).toBeUndefined();
  const drill = await history.newest("drill", { outcome: (o) => o !== "skipped" });
  expect(drill?.startedAt).toBe(at(364 * 3 + 2));
  const last = await history.lastRun();
  expect(last?.record).toMatchObject({ kind: "drill", outcome: "succeeded", startedAt: at(364 * 3 + 2) });

  // Never a full listing; a page or two and a record or two per question, the marker once for the missing check.
  expect(catalog.counts.list).toBe(0);
  expect(catalog.counts.listPage).toBeLessThanOrEqual(8);
  expect(catalog.counts.get).toBeLessThanOrEqual(7);
});

test("questions asked side by side share their listing and their reads (status: newest good, the guard)", async () => {
  const { catalog, history } = await indexedYear();

  const [good, guard] = await Promise.all([
    history.newest("snapshot", { succeeded: true }),
    guardState(history),
  ]);
  expect(good?.snapshotId).toBe("363".padStart(64, "a"));
  expect(guard.baseline?.snapshotId).toBe(good?.snapshotId);
  expect(catalog.counts).toMatchObject({ listPage: 1, get: 1 });
});

test("a catalog from before the index is indexed once, then answered from the index", async () => {
  const catalog = await countedCatalog();
  await nightlyYear(catalog, { indexed: false });
  const first = new HostHistory(catalog, "web1");
  expect((await first.newest("snapshot", { succeeded: true }))?.snapshotId).toBe("363".padStart(64, "a"));
  expect(catalog.counts.list).toBe(1);
  expect(await catalog.get(indexedMarker("web1"))).toBe('{"version":1}');

  // Another process (a new store over the same directory) finds the marker: no listing of runs/ again.
  const other = await countedCatalog(catalog.dir);
  const second = new HostHistory(other, "web1");
  expect(await second.newest("check")).toBeUndefined();
  expect((await second.lastRun())?.record?.kind).toBe("drill");
  const drills = await second.newestN("drill", 5, { outcome: (o) => o !== "skipped" });
  expect(drills.map((d) => d.startedAt)).toEqual([364, 350, 343, 336, 329].map((d) => at(d * 3 + 2)));
  expect(other.counts.list).toBe(0);
  expect(other.counts.get).toBeLessThanOrEqual(1 + 1 + 5);
});

test("the last run: an unfinished one, skipped and stage runs passed over, a record that cannot be read", async () => {
  const catalog = await countedCatalog();
  await putRecord(catalog, run(1, "snapshot", "succeeded"));
  await putRecord(catalog, run(2, "stage", "failed"));
  await putRecord(catalog, run(3, "check", "skipped"));
  const history = () => new HostHistory(catalog, "web1");
  expect((await history().lastRun())?.record?.kind).toBe("snapshot");

  // A run that started and has no end: unfinished, whatever came before.
  await putRecord(catalog, { ...run(4, "drill", "running"), phase: "start" });
  const unfinished = await history().lastRun();
  expect(unfinished?.record).toBeUndefined();
  expect(unfinished?.entry).toMatchObject({ kind: "drill", phase: "start", startedAt: at(4) });

  // Its end arrives, but the record is not what its key says (planted from another host): passed over, and the
  // run's start does not make it look unfinished.
  const planted = { ...run(4, "drill", "succeeded"), host: "db1" };
  await catalog.put(runKey({ ...planted, host: "web1" }), JSON.stringify(planted));
  const warnings: unknown[] = [];
  const sink = { warn: (o: unknown) => warnings.push(o) };
  const last = await new HostHistory(catalog, "web1", sink).lastRun();
  expect(last?.record?.kind).toBe("snapshot");
  expect(warnings).toHaveLength(1);
});

test("index entries that are not entries, or name no record, are passed over", async () => {
  const catalog = await countedCatalog();
  await putRecord(catalog, run(1, "snapshot", "succeeded", { snapshotId: "a".repeat(64) }));
  await catalog.put(indexedMarker("web1"), '{"version":1}');
  // Newer than the real one: an entry naming no record, and a key that is no entry at all.
  await catalog.put(`newest/web1/succeeded/snapshot/${"0".repeat(13)}_deadbeef`, "{}");
  await catalog.put("newest/web1/succeeded/snapshot/0000000000000-garbage", "{}");
  const warnings: unknown[] = [];
  const good = await new HostHistory(catalog, "web1", { warn: (o: unknown) => warnings.push(o) }).newest(
    "snapshot",
    { succeeded: true },
  );
  expect(good?.snapshotId).toBe("a".repeat(64));
  expect(warnings).toHaveLength(1);
});

test("recordRun writes the index with the records", async () => {
  const catalog = await countedCatalog();
  await catalog.put(indexedMarker("web1"), '{"version":1}');
  await recordRun(
    { catalog, host: "web1", kind: "check" },
    async () => 3,
    () => ({ details: { slice: 3 } }),
  );
  const check = await new HostHistory(catalog, "web1").newest("check", { succeeded: true });
  expect(check?.details).toEqual({ slice: 3 });
  expect((await new HostHistory(catalog, "web1").lastRun())?.record?.kind).toBe("check");
});
