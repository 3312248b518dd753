// The repository password appears in no process argument, log line, error or output.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { expect } from "vitest";
import { runCli, startCli } from "./helpers/cli.js";
import { argvsDuring } from "./helpers/proc.js";
import { writeWeb1 } from "./helpers/web1.js";
import { test } from "./helpers/workspace.js";

function bulk(dir = "bulk"): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 20; i++) files[`srv/app/uploads/${dir}/${i}.bin`] = randomBytes(2 * 1024 * 1024);
  return files;
}

test("a password from the environment is in no argv, log, error or output", async ({ ws }) => {
  const password = `pw-${randomBytes(12).toString("hex")}`;
  await ws.writeConfig(`targets:\n  primary: { type: local, passwordEnv: REPO_PW }\n`);
  await writeWeb1(ws, bulk());
  const env = { ...ws.env, REPO_PW: password };
  const outputs: string[] = [];

  const run = startCli(["--log-level", "trace", "snapshot", "--host", "web1"], env);
  const cmdlines = await argvsDuring(run);
  const r = await run;
  expect(r.exitCode, String(r.stderr)).toBe(0);
  outputs.push(String(r.stdout), String(r.stderr));
  // The sampling really saw restic at work, so its absence of the password means something.
  expect(cmdlines.some((c) => c.includes("restic backup"))).toBe(true);
  expect(cmdlines.filter((c) => c.includes(password))).toEqual([]);

  for (const args of [
    ["restore", "--host", "web1", "--target", `${ws.root}/r`],
    ["snapshots"],
    ["--json", "snapshots"],
  ]) {
    const o = await runCli(["--log-level", "trace", ...args], env);
    expect(o.exitCode, o.stderr).toBe(0);
    outputs.push(o.stdout, o.stderr);
  }
  // A wrong password: the error must not echo either the wrong or the right one.
  const wrong = `wrong-${randomBytes(8).toString("hex")}`;
  const w = await runCli(["--log-level", "trace", "--json", "snapshots"], { ...env, REPO_PW: wrong });
  expect(w.exitCode).toBe(12);
  outputs.push(w.stdout, w.stderr);
  for (const out of outputs) {
    expect(out).not.toContain(password);
    expect(out).not.toContain(wrong);
  }
});

test("a generated key file's password is in no argv, log, error or output", async ({ ws }) => {
  await writeWeb1(ws, bulk());
  const first = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(first.exitCode, first.stderr).toBe(0);
  const password = (await readFile(`${ws.home}/keys/primary.key`, "utf8")).trim();
  expect(password.length).toBeGreaterThanOrEqual(32);

  // New files, so the second snapshot takes a while (rewriting the old ones would look like encryption).
  await writeWeb1(ws, bulk("more"));
  const run = startCli(["--log-level", "trace", "snapshot", "--host", "web1"], ws.env);
  const cmdlines = await argvsDuring(run);
  const r = await run;
  expect(r.exitCode).toBe(0);
  expect(cmdlines.some((c) => c.includes("restic backup"))).toBe(true);
  expect(cmdlines.filter((c) => c.includes(password))).toEqual([]);
  for (const out of [first.stdout, first.stderr, String(r.stdout), String(r.stderr)])
    expect(out).not.toContain(password);
});

test("run records in the bucket hold no password or S3 secret, also for failed runs", async ({ ws }) => {
  const { inject } = await import("vitest");
  const { catalogFor } = await import("../src/catalog/store.js");
  const { listRuns } = await import("../src/catalog/records.js");
  const s3 = inject("s3");
  const password = `pw-${randomBytes(12).toString("hex")}`;
  await ws.useS3(s3);
  await ws.writeConfig(
    `targets:\n  offsite: { type: s3, endpoint: "${s3.endpoint}", bucket: ${s3.bucket}, prefix: "rec-${randomBytes(4).toString("hex")}", pathStyle: true, caFile: ${s3.caFile}, passwordEnv: REPO_PW }\n`,
  );
  await writeWeb1(ws);
  const env = { ...ws.env, REPO_PW: password };
  expect((await runCli(["snapshot", "--host", "web1"], env)).exitCode).toBe(0);
  expect((await runCli(["check"], env)).exitCode).toBe(0);
  // Failures whose messages come from restic and the SDK: a wrong password, a missing path.
  expect(
    (await runCli(["snapshot", "--host", "web1"], { ...env, REPO_PW: `${password}-wrong` })).exitCode,
  ).toBe(12);
  await (await import("node:fs/promises")).rm(ws.data("srv/app/uploads"), { recursive: true });
  expect((await runCli(["snapshot", "--host", "web1"], env)).exitCode).toBe(4);

  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  const catalog = catalogFor(await ws.config(env), "offsite");
  const runs = await listRuns(catalog, "web1");
  expect(runs.length).toBeGreaterThanOrEqual(5);
  const keys = await catalog.list("runs/");
  for (const key of keys) {
    const body = (await catalog.get(key)) ?? "";
    expect(body).not.toContain(password);
    expect(body).not.toContain(s3.secretAccessKey);
  }
  const failed = await Promise.all(
    keys.filter((k) => k.endsWith(".end.json")).map(async (k) => JSON.parse((await catalog.get(k)) ?? "{}")),
  );
  expect(
    failed
      .map((r: { error?: { code: string } }) => r.error?.code)
      .filter(Boolean)
      .sort(),
  ).toEqual(["DATA_MISSING", "WRONG_PASSWORD"]);
});
