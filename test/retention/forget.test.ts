import { appendFile, writeFile } from "node:fs/promises";
import { expect, inject } from "vitest";
import { jsonResult, runCli } from "../helpers/cli.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

const s3 = inject("s3");

interface Snap {
  snapshotId: string;
  retention?: { kept: Array<{ id: string }>; removed: Array<{ id: string }> };
}

test("retention after each snapshot keeps exactly what the rules say, on S3", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  await appendFile(`${ws.policiesDir}/web1.yaml`, "retention: { last: 2 }\n");
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    await writeFile(ws.data("srv/app/uploads/counter.txt"), String(i));
    const snap = jsonResult<Snap>(await runCli(["--json", "snapshot", "--host", "web1"], ws.env));
    ids.push(snap.snapshotId);
    expect(snap.retention?.kept.map((s) => s.id)).toEqual(ids.slice(-2).reverse());
  }
  const list = jsonResult<Array<{ id: string }>>(
    await runCli(["--json", "snapshots", "--host", "web1"], ws.env),
  );
  expect(list.map((s) => s.id)).toEqual(ids.slice(-2));

  const status = jsonResult<Array<{ lastRun: { kind: string; outcome: string } }>>(
    await runCli(["--json", "status"], ws.env),
  );
  expect(status[0]?.lastRun).toMatchObject({ kind: "prune", outcome: "succeeded" });
});

test("forget --dry-run shows what would go and changes nothing; --no-prune skips retention", async ({
  ws,
}) => {
  await writeWeb1(ws);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    await writeFile(ws.data("srv/app/uploads/counter.txt"), String(i));
    ids.push(
      jsonResult<Snap>(await runCli(["--json", "snapshot", "--host", "web1", "--no-prune"], ws.env))
        .snapshotId,
    );
  }
  await appendFile(`${ws.policiesDir}/web1.yaml`, "retention: { last: 1 }\n");
  const dry = await runCli(["forget", "--host", "web1", "--dry-run"], ws.env);
  expect(dry.exitCode, dry.stderr).toBe(0);
  expect(dry.stdout).toContain("web1: keeping 1, would remove 2");
  expect(dry.stdout).toContain(`would remove ${ids[0]?.slice(0, 8)}`);
  expect(dry.stdout).toContain(`would remove ${ids[1]?.slice(0, 8)}`);
  expect(jsonResult<unknown[]>(await runCli(["--json", "snapshots"], ws.env))).toHaveLength(3);

  const real = await runCli(["forget", "--host", "web1"], ws.env);
  expect(real.stdout).toContain("web1: keeping 1, removed 2");
  const left = jsonResult<Array<{ id: string }>>(await runCli(["--json", "snapshots"], ws.env));
  expect(left.map((s) => s.id)).toEqual([ids[2]]);
});
