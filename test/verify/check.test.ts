import { randomBytes } from "node:crypto";
import { appendFile, open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { expect, inject } from "vitest";
import { jsonResult, runCli } from "../helpers/cli.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

const s3 = inject("s3");

interface CheckResult {
  host: string;
  subset?: string;
  error?: { code: string };
}

test("check reads the next data slice each run and wraps around, on S3", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  await appendFile(`${ws.policiesDir}/web1.yaml`, "checkSlices: 3\n");
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  const subsets: Array<string | undefined> = [];
  for (let i = 0; i < 4; i++) {
    subsets.push(jsonResult<CheckResult[]>(await runCli(["--json", "check"], ws.env))[0]?.subset);
  }
  expect(subsets).toEqual(["1/3", "2/3", "3/3", "1/3"]);
  const status = jsonResult<Array<{ lastCheck: { outcome: string } }>>(
    await runCli(["--json", "status"], ws.env),
  );
  expect(status[0]?.lastCheck.outcome).toBe("succeeded");
});

test("damage in one data pack is found within one full rotation, and its slice is read again until fixed", async ({
  ws,
}) => {
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 12; i++) big[`srv/app/uploads/bulk/${i}.bin`] = randomBytes(3 * 1024 * 1024);
  await writeWeb1(ws, big);
  await appendFile(`${ws.policiesDir}/web1.yaml`, "checkSlices: 3\n");
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);

  // The largest pack holds file data; same size, other bytes: only reading the data can notice.
  const dataDir = `${ws.home}/repositories/primary/web1/data`;
  const packs = (await readdir(dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const sized = await Promise.all(
    packs.map(async (e) => {
      const file = path.join(e.parentPath, e.name);
      return { file, size: (await stat(file)).size };
    }),
  );
  const victim = sized.sort((a, b) => b.size - a.size)[0];
  if (!victim) throw new Error("no packs");
  const fh = await open(victim.file, "r+");
  await fh.write(randomBytes(64), 0, 64, Math.floor(victim.size / 2));
  await fh.close();

  // Within one rotation (3 runs) the damage is found, in exactly one slice, and every earlier slice passed.
  const outcomes: CheckResult[] = [];
  let exitCode = 0;
  for (let i = 0; i < 3 && exitCode === 0; i++) {
    const r = await runCli(["--json", "check", "--host", "web1"], ws.env);
    exitCode = r.exitCode;
    outcomes.push(...(JSON.parse(r.stdout) as { result: CheckResult[] }).result);
  }
  const failed = outcomes.at(-1);
  expect(exitCode).toBe(1);
  expect(failed?.error?.code).toBe("REPOSITORY_DAMAGED");
  expect(outcomes.slice(0, -1).every((o) => o.error === undefined)).toBe(true);
  expect(outcomes.map((o) => o.subset)).toEqual(["1/3", "2/3", "3/3"].slice(0, outcomes.length));

  // The failed slice is not skipped: the next check reads it again, and fails again.
  const again = await runCli(["check", "--host", "web1"], ws.env);
  expect(again.exitCode).toBe(1);
  expect(again.stdout).toContain(
    `web1: check FAILED [REPOSITORY_DAMAGED]: web1's repository has errors (data slice ${failed?.subset})`,
  );
  const status = jsonResult<Array<{ lastCheck: { outcome: string } }>>({
    ...(await runCli(["--json", "status"], ws.env)),
    exitCode: 0,
  });
  expect(status[0]?.lastCheck.outcome).toBe("failed");
});
