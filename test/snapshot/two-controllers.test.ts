// Two controllers sharing a target (two $LIFEBOAT_HOMEs, one bucket): their host locks cannot see each other, so
// without the lease two first snapshots of a host both ran `restic init`. With it, at most one of each pair runs;
// the other is HOST_BUSY naming the other controller, and every repository holds what the catalog says.
import path from "node:path";
import { expect, inject, vi } from "vitest";
import { catalogFor } from "../../src/catalog/store.js";
import { snapshotsBothWays } from "../helpers/catalog.js";
import { runCli } from "../helpers/cli.js";
import { s3Config, s3Env } from "../helpers/s3/start.js";
import { test, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 300_000 });
const PAIRS = 6;

async function pairsOnTwoControllers(ws: Workspace, target: string): Promise<void> {
  for (let i = 0; i < PAIRS; i++) {
    await ws.writeData({ [`h${i}/a.txt`]: `host ${i}\n` });
    await ws.writePolicy(`h${i}.yaml`, `host: h${i}\nirreplaceable: [${ws.data(`h${i}`)}]\n`);
  }
  const controllers = ["ctl-a", "ctl-b"].map((name) => ({
    ...ws.env,
    LIFEBOAT_HOME: path.join(ws.root, name),
  }));
  let ran = 0;
  for (let i = 0; i < PAIRS; i++) {
    // Both busy is possible (both wrote before either listed); then the host's next run goes ahead.
    for (let round = 0; round < 5; round++) {
      const pair = await Promise.all(controllers.map((env) => runCli(["snapshot", "--host", `h${i}`], env)));
      for (const r of pair) {
        if (r.exitCode !== 0) {
          expect(r.exitCode, r.stderr).toBe(11);
          expect(r.stderr).toMatch(/error \[HOST_BUSY\]: h\d is busy on another controller: snapshot on /);
        }
      }
      const succeeded = pair.filter((r) => r.exitCode === 0).length;
      expect(succeeded, `pair ${i}`).toBeLessThanOrEqual(1);
      ran += succeeded;
      if (succeeded === 1) break;
    }
  }
  expect(ran).toBe(PAIRS);

  const config = await ws.config(controllers[0]);
  const catalog = catalogFor(config, target);
  for (let i = 0; i < PAIRS; i++) {
    const host = `h${i}`;
    const both = await snapshotsBothWays(config, target, host);
    expect(both.repository).toEqual(both.catalog);
    expect(both.catalog).toHaveLength(1);
    // No lease is left behind.
    expect(await catalog.list(`leases/${host}/`)).toEqual([]);
  }
}

test("two controllers sharing a local target: one first snapshot per host", async ({ ws }) => {
  await ws.writeConfig(
    `targets:\n  primary: { type: local, path: ${ws.data("repos")}, passwordFile: ${ws.data("key")} }\n` +
      "defaults:\n  repository: primary\n",
  );
  await pairsOnTwoControllers(ws, "primary");
});

test("two controllers sharing an S3 bucket: one first snapshot per host", async ({ ws }) => {
  const s3 = inject("s3");
  await ws.useS3(s3);
  const shared = s3Config(s3, `t-${path.basename(ws.root)}`).replace(
    "    pathStyle: true\n",
    `    pathStyle: true\n    passwordFile: ${ws.data("key")}\n`,
  );
  await ws.writeConfig(shared);
  Object.assign(process.env, s3Env(s3));
  await pairsOnTwoControllers(ws, "offsite");
});
