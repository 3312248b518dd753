import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import pLimit from "p-limit";
import { expect, inject } from "vitest";
import { indexKeys } from "../../src/catalog/keys.js";
import { listRuns, readRecord, runKey } from "../../src/catalog/records.js";
import { openCatalog } from "../../src/catalog/store.js";
import type { HostStatus } from "../../src/status/status.js";
import { jsonResult, runCli, startCli } from "../helpers/cli.js";
import { startS3Server } from "../helpers/s3/start.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

const s3 = inject("s3");

function comparable(hosts: HostStatus[]): unknown {
  return hosts.map((h) => ({
    ...h,
    lastGoodSnapshot: h.lastGoodSnapshot && { ...h.lastGoodSnapshot, ageSeconds: 0 },
  }));
}

test("run records live in the bucket: a fresh controller with only config and credentials sees the same status", async ({
  ws,
}) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  const snap = jsonResult<{ snapshotId: string; totalBytes: number }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );

  const first = await runCli(["--json", "status"], ws.env);
  expect(first.exitCode, first.stderr).toBe(0);
  const here = jsonResult<HostStatus[]>(first);
  expect(here[0]).toMatchObject({
    host: "web1",
    target: "offsite",
    fresh: true,
    healthy: true,
    lastGoodSnapshot: { snapshotId: snap.snapshotId, totalBytes: snap.totalBytes },
    // Every snapshot is followed by its retention run.
    lastRun: { kind: "prune", outcome: "succeeded" },
  });

  // The other controller: its own empty state directory, no key file, same lifeboat.yaml and credentials.
  const fresh = { ...ws.env, LIFEBOAT_HOME: `${ws.root}/other-controller` };
  const there = jsonResult<HostStatus[]>(await runCli(["--json", "status"], fresh));
  expect(comparable(there)).toEqual(comparable(here));
  await expect(readdir(`${ws.root}/other-controller`)).rejects.toThrow();

  const config = await ws.config();
  const target = config.targets.get("offsite");
  if (!target) throw new Error("no target");
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  const catalog = openCatalog(target);
  const runs = await listRuns(catalog, "web1");
  expect(runs.map((r) => r.kind)).toEqual(["snapshot", "prune"]);
  const record = await readRecord(catalog, runs[0]?.endKey ?? "");
  expect(record).toMatchObject({
    version: 1,
    host: "web1",
    kind: "snapshot",
    outcome: "succeeded",
    snapshotId: snap.snapshotId,
    resticVersion: expect.stringMatching(/^0\.\d+\.\d+$/),
    lifeboatVersion: expect.any(String),
  });
  expect(record?.finishedAt).toBeDefined();
});

test("a failed run is recorded with its error and makes status exit 9; the last good snapshot stays", async ({
  ws,
}) => {
  await writeWeb1(ws);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  await rm(ws.data("srv/app/config/secrets"), { recursive: true });
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(4);

  const r = await runCli(["status"], ws.env);
  expect(r.exitCode).toBe(9);
  expect(r.stdout).toMatch(/web1\s+[0-9a-f]{8} .*snapshot FAILED \(DATA_MISSING\)\s+never\s+LAST RUN FAILED/);
  const [host] = jsonResult<HostStatus[]>({ ...(await runCli(["--json", "status"], ws.env)), exitCode: 0 });
  expect(host?.lastRun?.error?.message).toContain("irreplaceable data of web1 is missing");
  expect(host?.lastGoodSnapshot).toBeDefined();
});

test("a run killed with SIGKILL leaves an unfinished record that status reports as failed", async ({
  ws,
}) => {
  const { randomBytes } = await import("node:crypto");
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 30; i++) big[`srv/app/uploads/bulk/${i}.bin`] = randomBytes(4 * 1024 * 1024);
  await writeWeb1(ws, big);
  const runsDir = `${ws.home}/repositories/primary/_catalog/runs/web1`;
  const child = startCli(["snapshot", "--host", "web1"], ws.env);
  for (;;) {
    const files = await readdir(runsDir).catch(() => [] as string[]);
    if (files.some((f) => f.endsWith(".start.json"))) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  await child;
  const r = await runCli(["status"], ws.env);
  expect(r.exitCode).toBe(9);
  expect(r.stdout).toContain("snapshot UNFINISHED (died?)");
  expect(r.stdout).toMatch(/web1\s+none/);
});

test("a host whose newest good snapshot is older than its RPO is STALE", async ({ ws }) => {
  await writeWeb1(ws);
  const policy = `${ws.policiesDir}/web1.yaml`;
  const { appendFile } = await import("node:fs/promises");
  await appendFile(policy, "rpo: 2s\n");
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  // The snapshot is no newer than this moment: 2 s from here it is surely older than its RPO.
  const saved = Date.now();
  expect((await runCli(["status"], ws.env)).exitCode).toBe(0);
  await new Promise((r) => setTimeout(r, Math.max(0, saved + 2_100 - Date.now())));
  const r = await runCli(["status", "--host", "web1"], ws.env);
  expect(r.exitCode).toBe(9);
  expect(r.stdout).toMatch(/web1 .* \/ 2s .*STALE/);
});

test("catalog records are write-once: the same record again is done, a different one is refused", async ({
  ws,
}) => {
  const config = await ws.config();
  const target = config.targets.get("primary");
  if (!target) throw new Error("no target");
  const catalog = openCatalog(target);
  await catalog.put("runs/x/a.json", "{}");
  await catalog.put("runs/x/a.json", "{}");
  await expect(catalog.put("runs/x/a.json", '{"changed":true}')).rejects.toThrow(
    "the catalog already holds a different record runs/x/a.json",
  );
  expect(await catalog.get("runs/x/a.json")).toBe("{}");
  expect(await catalog.list("runs/x/")).toEqual(["runs/x/a.json"]);
});

test("a truncated or misplaced run record is skipped with a warning naming its key; status still answers", async ({
  ws,
}) => {
  await writeWeb1(ws);
  const snap = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
  const when = new Date(Date.now() + 60_000).toISOString();
  const later = when.replace(/:/g, "-").replace(".", "-");
  // Whoever can write the bucket can write the index too: each record with the entries that point to it.
  const entries = (id: string) =>
    indexKeys({ host: "web1", startedAt: when, id, kind: "snapshot", phase: "end", outcome: "succeeded" });
  for (const key of [...entries("aaaaaaaaaaaa"), ...entries("bbbbbbbbbbbb")])
    await ws.plantInCatalog(key, "{}");
  const truncated = `runs/web1/${later}_aaaaaaaaaaaa_snapshot.end.json`;
  await ws.plantInCatalog(truncated, '{"version": 1, "id": "aaaaaaaaaaaa", "host": "web1", "outc');
  // Well formed, but another host's record under web1's key: it must not make web1 look fine or failed.
  const misplaced = `runs/web1/${later}_bbbbbbbbbbbb_snapshot.end.json`;
  await ws.plantInCatalog(
    misplaced,
    JSON.stringify({
      version: 1,
      id: "bbbbbbbbbbbb",
      host: "db1",
      kind: "snapshot",
      phase: "end",
      trigger: "manual",
      startedAt: when,
      outcome: "failed",
      error: { code: "RESTIC_FAILED", message: "planted" },
      lifeboatVersion: "0",
    }),
  );
  const r = await runCli(["--json", "status"], ws.env);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(jsonResult<HostStatus[]>(r)[0]).toMatchObject({ host: "web1", fresh: true, healthy: true });
  expect(r.stderr).toContain(`skipped a malformed catalog record ${truncated}: not JSON`);
  expect(r.stderr).toContain(`skipped a malformed catalog record ${misplaced}: its host, run id or kind`);
});

test("a year of history on the S3 server: listed in pages, indexed once, then status from a few requests", async ({
  ws,
}) => {
  // A server of its own, so that the requests counted are this test's.
  const requestLog = path.join(ws.root, "s3-requests.log");
  const own = await startS3Server({ requestLog });
  try {
    await ws.useS3(own);
    await writeWeb1(ws);
    const catalog = await ws.catalog();
    // A year of nightly snapshots and prunes, no check, as a version before the index wrote them: records only.
    const day = 86_400_000;
    const start = Date.now() - 364.75 * day;
    const records = Array.from({ length: 730 }, (_, i) => {
      const startedAt = new Date(start + i * (day / 2)).toISOString();
      const kind = i % 2 === 0 ? "snapshot" : "prune";
      const id = `c${String(i).padStart(11, "0")}`;
      const common = {
        version: 1,
        id,
        host: "web1",
        kind,
        trigger: "schedule",
        startedAt,
        lifeboatVersion: "0",
      };
      return [
        { ...common, phase: "start", outcome: "running" },
        {
          ...common,
          phase: "end",
          outcome: "succeeded",
          finishedAt: startedAt,
          snapshotId: id.padEnd(64, "0"),
        },
      ] as const;
    }).flat();
    const limit = pLimit(16);
    await Promise.all(records.map((r) => limit(() => catalog.put(runKey(r), JSON.stringify(r)))));
    expect(await catalog.list("runs/web1/")).toHaveLength(1460);

    const newest = records.at(-3); // the last snapshot's end: a prune follows it
    const expected = {
      host: "web1",
      lastGoodSnapshot: { snapshotId: newest?.id.padEnd(64, "0") },
      lastRun: { kind: "prune", outcome: "succeeded" },
    };
    // The first status indexes the old records (more than one page of them) and answers.
    const first = await runCli(["--json", "status"], ws.env);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(jsonResult<HostStatus[]>(first)[0]).toMatchObject(expected);
    expect(await catalog.get("newest/web1/indexed.json")).toBeDefined();

    // From then on a handful of listings and reads, though the host has no check and 1,460 records.
    await writeFile(requestLog, "");
    const second = await runCli(["--json", "status"], ws.env);
    expect(jsonResult<HostStatus[]>(second)[0]).toMatchObject(expected);
    const requests = (await readFile(requestLog, "utf8")).split("\n").filter(Boolean);
    expect(requests.length, requests.join("\n")).toBeLessThanOrEqual(8);
  } finally {
    await own.stop();
  }
});
