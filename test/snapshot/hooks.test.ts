// A policy's hooks run on the host around its snapshot, through its transport: `before` may write what is
// saved; a failing `before` saves nothing and names the hook; `onError` and `after` still run; the run record
// keeps each hook's exit and time.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, vi } from "vitest";
import { readRecord } from "../../src/catalog/records.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, sh, startContainerHost } from "../helpers/fleet.js";
import { test, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 180_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
let web1: ContainerHost;

beforeAll(async () => {
  web1 = await startContainerHost(`lb-hooks-${tag}`);
  await sh(web1.root, "mkdir -p /srv/app && echo kept > /srv/app/data.txt");
}, 240_000);

afterAll(async () => {
  await web1?.remove();
});

async function writePolicy(ws: Workspace, hooks: string): Promise<void> {
  await ws.useFleetS3(s3);
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\ntransport: { container: ${web1.name} }\nirreplaceable: [/srv/app]\nhooks:\n${hooks}`,
  );
}

async function endRecords(ws: Workspace) {
  const catalog = await ws.catalog();
  const keys = (await catalog.list("runs/web1/")).filter((k) => k.endsWith("_snapshot.end.json"));
  return Promise.all(keys.map((k) => readRecord(catalog, k)));
}

test("a before hook writes what the snapshot saves; after runs with the outcome; the record keeps each hook", async ({
  ws,
}) => {
  await writePolicy(
    ws,
    `  before:
    - 'echo "export of $LIFEBOAT_RUN_ID" > /srv/app/export.txt'
  after:
    - run: 'echo "$LIFEBOAT_HOOK $LIFEBOAT_OUTCOME" > /tmp/after.txt'
      timeout: 30s
`,
  );
  const r = await runCli(["--json", "snapshot", "--host", "web1"], ws.env);
  expect(r.exitCode, r.stderr).toBe(0);
  const [record] = await endRecords(ws);
  expect(record?.outcome).toBe("succeeded");
  expect(record?.details?.hooks).toMatchObject([
    { phase: "before", exitCode: 0 },
    { phase: "after", exitCode: 0 },
  ]);
  expect((await sh(web1.root, "cat /tmp/after.txt")).trim()).toBe("after succeeded");

  // The export is in the snapshot, from this very run.
  const target = path.join(ws.root, "restored");
  const restored = await runCli(["restore", "--host", "web1", "--target", target], ws.env);
  expect(restored.exitCode, restored.stderr).toBe(0);
  expect(await readFile(path.join(target, "srv/app/export.txt"), "utf8")).toBe(`export of ${record?.id}\n`);
});

test("a failing before hook saves nothing and names the hook; onError and after still run, and are recorded", async ({
  ws,
}) => {
  await writePolicy(
    ws,
    `  before:
    - 'echo "redis is not answering" >&2; exit 3'
    - 'touch /tmp/second-before'
  onError:
    - 'echo "$LIFEBOAT_ERROR" > /tmp/on-error.txt'
  after:
    - 'echo "$LIFEBOAT_OUTCOME" > /tmp/after-failed.txt'
`,
  );
  const r = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain("HOOK_FAILED");
  expect(r.stderr).toContain("exit 3");
  expect(r.stderr).toContain("redis is not answering");
  // The rest of `before` never ran; no snapshot was made (the repository was never even opened).
  expect((await sh(web1.root, "test -e /tmp/second-before && echo ran || echo not")).trim()).toBe("not");
  const snapshots = await runCli(["--json", "snapshots", "--host", "web1"], ws.env);
  expect(jsonResult<unknown[]>(snapshots)).toHaveLength(0);
  expect((await sh(web1.root, "cat /tmp/on-error.txt")).trim()).toBe("HOOK_FAILED");
  expect((await sh(web1.root, "cat /tmp/after-failed.txt")).trim()).toBe("failed");
  const [record] = await endRecords(ws);
  expect(record).toMatchObject({ outcome: "failed", error: { code: "HOOK_FAILED" } });
  expect(record?.details?.hooks).toMatchObject([
    { phase: "before", exitCode: 3 },
    { phase: "onError", exitCode: 0 },
    { phase: "after", exitCode: 0 },
  ]);
});

test("a hook that does not finish in its time is stopped and fails the snapshot before it starts", async ({
  ws,
}) => {
  await writePolicy(ws, `  before:\n    - { run: 'sleep 60', timeout: 2s }\n`);
  const started = Date.now();
  const r = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain("did not finish within 2 s");
  expect(Date.now() - started).toBeLessThan(30_000);
});

test("hooks are validated: unknown phases and empty commands are refused with the line to fix", async ({
  ws,
}) => {
  await writePolicy(ws, `  beforeSnapshot: ['true']\n  after: ['']\n`);
  const r = await runCli(["validate"], ws.env);
  expect(r.exitCode).toBe(2);
  expect(r.stdout + r.stderr).toContain("beforeSnapshot");
  expect(r.stdout + r.stderr).toMatch(/hooks\.after\.0|after/);
});
