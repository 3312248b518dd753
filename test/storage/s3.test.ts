import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import path from "node:path";
import { expect, inject } from "vitest";
import { jsonResult, runCli } from "../helpers/cli.js";
import { treeChecksums } from "../helpers/tree.js";
import { WEB1_IRREPLACEABLE, writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

const s3 = inject("s3");

test("a snapshot to S3 restores byte-identical", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws, { "srv/app/uploads/big.bin": randomBytes(6 * 1024 * 1024) });
  const before = await treeChecksums(ws.data());
  const snap = jsonResult<{ repository: string; snapshotId: string; createdKeyFile: string }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );
  expect(snap.repository).toBe(`s3:${s3.endpoint}/${s3.bucket}/t-${path.basename(ws.root)}/web1`);
  expect(snap.createdKeyFile).toBe(`${ws.home}/keys/offsite.key`);

  const list = jsonResult<Array<{ id: string }>>(await runCli(["--json", "snapshots"], ws.env));
  expect(list.map((s) => s.id)).toEqual([snap.snapshotId]);

  const target = path.join(ws.root, "restored");
  const r = await runCli(["restore", "--host", "web1", "--target", target], ws.env);
  expect(r.exitCode, r.stderr).toBe(0);
  const after = await treeChecksums(path.join(target, ws.data()));
  const expected = Object.fromEntries(
    [...WEB1_IRREPLACEABLE, "srv/app/uploads/big.bin"].map((f) => [f, before[f]]),
  );
  expect(after).toEqual(expected);
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = Date.now();
  const value = await fn();
  return { value, seconds: (Date.now() - start) / 1000 };
}

test("an unknown access key fails fast with STORAGE_ACCESS_DENIED (exit 8)", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  const { value: r, seconds } = await timed(() =>
    runCli(["snapshot", "--host", "web1"], { ...ws.env, AWS_ACCESS_KEY_ID: "AKNOTAKEY0000000" }),
  );
  expect(r.exitCode).toBe(8);
  expect(r.stderr).toContain("error [STORAGE_ACCESS_DENIED]: access denied to s3://lifeboat-test/");
  expect(r.stderr).toContain("Check the AWS credentials");
  expect(seconds).toBeLessThan(20);
});

test("a missing bucket fails fast with BUCKET_MISSING (exit 8) and creates nothing", async ({ ws }) => {
  await ws.useS3({ ...s3, bucket: "no-such-bucket" });
  await writeWeb1(ws);
  const { value: r, seconds } = await timed(() => runCli(["snapshot", "--host", "web1"], ws.env));
  expect(r.exitCode).toBe(8);
  expect(r.stderr).toContain("error [BUCKET_MISSING]: bucket no-such-bucket does not exist");
  expect(r.stderr).toContain("Lifeboat does not create buckets");
  expect(seconds).toBeLessThan(20);
});

test("an unreachable endpoint fails within seconds with STORAGE_UNREACHABLE (exit 8)", async ({ ws }) => {
  // A port that was just free: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  await ws.useS3({ ...s3, endpoint: `https://127.0.0.1:${port}` });
  await writeWeb1(ws);
  const { value: r, seconds } = await timed(() => runCli(["snapshot", "--host", "web1"], ws.env));
  expect(r.exitCode).toBe(8);
  expect(r.stderr).toContain(`error [STORAGE_UNREACHABLE]: cannot reach s3://lifeboat-test/`);
  expect(r.stderr).toContain("ECONNREFUSED");
  expect(seconds).toBeLessThan(20);
});

test("an endpoint whose certificate is not trusted says to set caFile", async ({ ws }) => {
  await ws.writeConfig(
    `targets:\n  offsite: { type: s3, endpoint: "${s3.endpoint}", bucket: ${s3.bucket}, pathStyle: true }\n`,
  );
  ws.s3 = s3;
  await writeWeb1(ws);
  const r = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(r.exitCode).toBe(8);
  expect(r.stderr).toContain("STORAGE_TLS");
  expect(r.stderr).toContain("set caFile");
});

test("no credentials anywhere gives CREDENTIALS_MISSING (exit 7)", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  const env: NodeJS.ProcessEnv = { ...ws.env, HOME: ws.root };
  delete env.AWS_ACCESS_KEY_ID;
  delete env.AWS_SECRET_ACCESS_KEY;
  const r = await runCli(["snapshot", "--host", "web1"], env);
  expect(r.exitCode).toBe(7);
  expect(r.stderr).toContain("no AWS credentials found for target offsite");
});

test("the S3 secret key is in no output, even at trace level and on failure", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  const outputs: string[] = [];
  for (const args of [
    ["snapshot", "--host", "web1"],
    ["--json", "snapshots"],
  ]) {
    const r = await runCli(["--log-level", "trace", ...args], ws.env);
    expect(r.exitCode, r.stderr).toBe(0);
    outputs.push(r.stdout, r.stderr);
  }
  const denied = await runCli(["--log-level", "trace", "--json", "snapshots"], {
    ...ws.env,
    AWS_ACCESS_KEY_ID: "AKNOTAKEY0000000",
  });
  outputs.push(denied.stdout, denied.stderr);
  for (const out of outputs) expect(out).not.toContain(s3.secretAccessKey);
});
