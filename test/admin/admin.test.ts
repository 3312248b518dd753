import { readFile, stat, writeFile } from "node:fs/promises";
import { expect, inject } from "vitest";
import type { DoctorCheck } from "../../src/admin/doctor.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

const s3 = inject("s3");

test("init generates a key once, never replaces it, and creates each host's repository", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  await ws.writePolicy("db1.yaml", `host: db1\nirreplaceable: [${ws.data("db")}]\n`);
  const first = await runCli(["init"], ws.env);
  expect(first.exitCode, first.stderr).toBe(0);
  const keyFile = `${ws.home}/keys/offsite.key`;
  expect(first.stdout).toContain(`offsite: NEW REPOSITORY KEY ${keyFile}`);
  expect(first.stdout).toContain("db1: repository created");
  expect(first.stdout).toContain("web1: repository created");
  expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  const key = await readFile(keyFile, "utf8");

  const second = await runCli(["init"], ws.env);
  expect(second.stdout).toContain(`offsite: key file ${keyFile} (kept as it is)`);
  expect(second.stdout).toContain("web1: repository existed");
  expect(await readFile(keyFile, "utf8")).toBe(key);
  // The first snapshot uses the repository init made, and announces no new key.
  const snap = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
  expect(snap.stdout).not.toContain("NEW REPOSITORY KEY");
});

test("the kit names everything needed to rebuild, and secrets only when asked", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  expect((await runCli(["init"], ws.env)).exitCode).toBe(0);
  const password = (await readFile(`${ws.home}/keys/offsite.key`, "utf8")).trim();

  const kit = await runCli(["kit"], ws.env);
  expect(kit.exitCode, kit.stderr).toBe(0);
  for (const fact of [
    `endpoint: ${s3.endpoint}`,
    `bucket: ${s3.bucket}`,
    "pathStyle: true",
    `caFile: ${s3.caFile}`,
    `repository password: in the key file ${ws.home}/keys/offsite.key`,
    `host web1: s3:${s3.endpoint}/${s3.bucket}/`,
    "not a git repository",
    "| targets:",
    "bin/lifeboat.js restore --host web1",
  ]) {
    expect(kit.stdout).toContain(fact);
  }
  expect(kit.stdout).not.toContain(password);
  expect(kit.stdout).not.toContain(s3.secretAccessKey);

  const secret = await runCli(["kit", "--show-secrets"], ws.env);
  expect(secret.stdout).toContain(`PASSWORD: ${password}`);
  expect(secret.stdout).not.toContain(s3.secretAccessKey);
  const json = jsonResult<{ targets: Array<{ secret?: string }> }>(await runCli(["--json", "kit"], ws.env));
  expect(json.targets[0]?.secret).toBeUndefined();
});

test("doctor passes on a working setup and names each failure with what to do", async ({ ws }) => {
  await ws.useS3(s3);
  await writeWeb1(ws);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  const good = await runCli(["--json", "doctor"], ws.env);
  expect(good.exitCode, good.stdout).toBe(0);
  const checks = jsonResult<DoctorCheck[]>(good);
  expect(checks.map((c) => c.name)).toEqual([
    "restic",
    "config and policies",
    "offsite: credentials",
    "offsite: bucket write, read, delete",
    "offsite: clock",
    "offsite: repository password",
    "offsite: repository of web1",
  ]);
  expect(checks.every((c) => c.ok)).toBe(true);
  expect(checks.find((c) => c.name === "offsite: clock")?.detail).toMatch(/^-?\d+s from the server's clock$/);

  const denied = await runCli(["doctor"], { ...ws.env, AWS_ACCESS_KEY_ID: "AKNOTAKEY0000000" });
  expect(denied.exitCode).toBe(8);
  expect(denied.stdout).toContain("FAIL offsite: bucket write, read, delete: access denied");
  expect(denied.stdout).toContain("-> Check the AWS credentials");

  await writeFile(`${ws.home}/keys/offsite.key`, "wrong password\n", { mode: 0o600 });
  const wrong = await runCli(["doctor"], ws.env);
  expect(wrong.exitCode).toBe(12);
  expect(wrong.stdout).toContain("FAIL offsite: repository of web1");
  expect(wrong.stdout).toContain("recovery kit");
});

test("doctor flags what allowInsecure lets cross the network in clear", async ({ ws }) => {
  await ws.writeConfig(
    "targets:\n  primary: { type: local }\nmail:\n  smtp: { host: smtp.example.org, security: none, allowInsecure: true }\n  from: l@example.org\n  to: [ops@example.org]\n",
  );
  await writeWeb1(ws);
  const r = await runCli(["--json", "doctor"], ws.env);
  const checks = (JSON.parse(r.stdout) as { result: DoctorCheck[] }).result;
  expect(checks.find((c) => c.name === "plain-text connections")).toMatchObject({
    ok: false,
    code: "INSECURE_ALLOWED",
    detail: "allowed by allowInsecure: SMTP to smtp.example.org:25",
  });
});
