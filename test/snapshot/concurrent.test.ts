// Two first snapshots of a host at once (a cron'd CLI beside the daemon) once ran two `restic init`s and left a
// repository restic could not open, with a "succeeded" record for a snapshot that did not exist. One run per host
// at a time: the second says HOST_BUSY and records nothing; every repository opens and holds exactly what the
// catalog says.
import { expect, inject, vi } from "vitest";
import { snapshotsBothWays } from "../helpers/catalog.js";
import { runCli } from "../helpers/cli.js";
import { s3Env } from "../helpers/s3/start.js";
import { test, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 300_000 });
const PAIRS = 10;

async function pairsOfFirstSnapshots(ws: Workspace, target: string): Promise<void> {
  for (let i = 0; i < PAIRS; i++) {
    await ws.writeData({ [`h${i}/a.txt`]: `host ${i}\n` });
    await ws.writePolicy(`h${i}.yaml`, `host: h${i}\nirreplaceable: [${ws.data(`h${i}`)}]\n`);
  }
  const outcomes: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const pair = await Promise.all([
      runCli(["snapshot", "--host", `h${i}`], ws.env),
      runCli(["snapshot", "--host", `h${i}`], ws.env),
    ]);
    for (const r of pair) {
      // Either it ran, or it found the host busy and said who holds it.
      if (r.exitCode !== 0) {
        expect(r.exitCode, r.stderr).toBe(11);
        expect(r.stderr).toMatch(/error \[HOST_BUSY\]: h\d is busy: snapshot \(pid \d+\) since /);
      }
      outcomes.push(r.exitCode);
    }
  }
  expect(outcomes.filter((c) => c === 0).length).toBeGreaterThanOrEqual(PAIRS);

  const config = await ws.config();
  for (let i = 0; i < PAIRS; i++) {
    const host = `h${i}`;
    // The repository opens, and holds exactly the snapshots the catalog says succeeded.
    const both = await snapshotsBothWays(config, target, host);
    expect(both.repository, host).toEqual(both.catalog);
    expect(both.repository.length).toBeGreaterThan(0);
  }
}

test("pairs of concurrent first snapshots on a local target leave usable repositories", async ({ ws }) => {
  await pairsOfFirstSnapshots(ws, "primary");
});

test("pairs of concurrent first snapshots on S3 leave usable repositories", async ({ ws }) => {
  const s3 = inject("s3");
  await ws.useS3(s3);
  Object.assign(process.env, s3Env(s3));
  await pairsOfFirstSnapshots(ws, "offsite");
});
