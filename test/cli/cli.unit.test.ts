import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { VERSION } from "../../src/version.js";
import { runCli } from "../helpers/cli.js";
import { test } from "../helpers/workspace.js";

test("validate lists every problem as file:line: field: message and exits 2", async ({ ws }) => {
  await ws.writePolicy("web1.yaml", "host: web1\nirreplaceable:\n  - /srv/a\n  - srv/b\nbogus: 1\n");
  await ws.writePolicy("db1.yaml", 'host: db1\nschedule: "every night"\nirreplaceable: [/var/lib/db]\n');
  const r = await runCli(["validate"], ws.env, ws.root);
  expect(r.exitCode).toBe(2);
  const lines = r.stderr.split("\n");
  expect(lines).toContain(
    'policies/db1.yaml:2: schedule: "every night" has 2 fields; a cron schedule has 5 (minute hour day month weekday) or 6 (seconds first)',
  );
  expect(lines).toContain(
    'policies/web1.yaml:4: irreplaceable[1]: "srv/b" must be an absolute path (start with /)',
  );
  expect(lines).toContain('policies/web1.yaml:5: bogus: unknown key "bogus"');

  const json = await runCli(["--json", "validate"], ws.env, ws.root);
  expect(json.exitCode).toBe(2);
  const parsed = JSON.parse(json.stdout) as {
    ok: boolean;
    error: { code: string; details: { problems: unknown[] } };
  };
  expect(parsed.ok).toBe(false);
  expect(parsed.error.code).toBe("POLICY_INVALID");
  expect(parsed.error.details.problems).toHaveLength(3);
});

test("validate --policies checks another directory and reports what each host snapshots", async ({ ws }) => {
  await ws.writePolicy("web1.yaml", "host: web1\nirreplaceable: [/srv/a]\nrebuildable: [/srv]\n");
  const r = await runCli(["validate", "--policies", ws.policiesDir], ws.env, "/");
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toContain("1 policy valid (web1)");
  expect(r.stdout).toContain("web1: snapshots /srv/a");
});

test("a broken lifeboat.yaml is reported by validate with its line", async ({ ws }) => {
  await ws.writeConfig("targets:\n  primary: { type: local, path: rel }\n");
  const r = await runCli(["validate"], ws.env, ws.root);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("lifeboat.yaml:2: targets.primary.path: must be an absolute path");
});

it("--help exits 0, an unknown command or a missing option exits 2", async () => {
  expect((await runCli(["--help"], process.env)).exitCode).toBe(0);
  const unknown = await runCli(["frobnicate"], process.env);
  expect(unknown.exitCode).toBe(2);
  expect(unknown.stderr).toContain("unknown command");
  const missing = await runCli(["snapshot"], process.env);
  expect(missing.exitCode).toBe(2);
  expect(missing.stderr).toContain("--host");
});

it("--version matches package.json", async () => {
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  expect(VERSION).toBe(pkg.version);
  expect((await runCli(["--version"], process.env)).stdout.trim()).toBe(pkg.version);
});

it("global options work after the command, and a bad --log-level is a usage error", async () => {
  const late = await runCli(["validate", "--json", "--policies", "/nonexistent"], process.env);
  expect(late.exitCode).toBe(2);
  expect(JSON.parse(late.stdout)).toMatchObject({ ok: false, error: { code: "POLICY_INVALID" } });
  const bad = await runCli(["--log-level", "loud", "validate"], process.env);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toContain("Allowed choices are trace, debug, info, warn, error");
});
