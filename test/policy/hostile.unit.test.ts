// Hostile or huge input is a clear problem with exit 2, never INTERNAL with a stack trace or a run that
// takes minutes: an alias bomb, a file of megabytes, a path of thousands of characters, more entries than a
// policy may have, a restore target in a directory that does not exist.
import { expect } from "vitest";
import { runCli } from "../helpers/cli.js";
import { test } from "../helpers/workspace.js";

const BOMB = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`;

const clean = (out: string) => expect(out).not.toMatch(/INTERNAL|\n\s+at \S+ \(/);

test("an alias bomb in a policy or in lifeboat.yaml is a problem, not a crash", async ({ ws }) => {
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [/srv]\n${BOMB}`);
  const policy = await runCli(["validate"], ws.env);
  expect(policy.exitCode, policy.stderr).toBe(2);
  expect(policy.stdout + policy.stderr).toContain("YAML cannot be expanded");
  clean(policy.stdout + policy.stderr);

  await ws.writeConfig(`targets:\n  primary: { type: local }\n${BOMB}`);
  const config = await runCli(["validate"], ws.env);
  expect(config.exitCode, config.stderr).toBe(2);
  expect(config.stdout + config.stderr).toContain("YAML cannot be expanded");
  clean(config.stdout + config.stderr);
});

test("a huge file, a huge path and too many entries are refused first, with the limit", async ({ ws }) => {
  // 100,000 entries: megabytes of YAML, refused before it is parsed.
  const many = Array.from({ length: 100_000 }, (_, i) => `  - /srv/data/d${i}`).join("\n");
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable:\n${many}\n`);
  const big = await runCli(["validate"], ws.env);
  expect(big.exitCode).toBe(2);
  expect(big.stdout + big.stderr).toMatch(
    /web1\.yaml:1: is \d+\.\d MiB; a Lifeboat YAML file may be at most 1 MiB/,
  );
  clean(big.stdout + big.stderr);

  // Under the size limit, over the entry limit.
  const over = Array.from({ length: 10_001 }, (_, i) => `/d${i}`).join(",");
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [/srv]\nignored: [${over}]\n`);
  const entries = await runCli(["validate"], ws.env);
  expect(entries.exitCode).toBe(2);
  expect(entries.stdout + entries.stderr).toContain("list at most 10000 paths");

  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [/${"x".repeat(5000)}]\n`);
  const long = await runCli(["validate"], ws.env);
  expect(long.exitCode).toBe(2);
  expect(long.stdout + long.stderr).toContain("a path of 5001 characters; paths may have at most 4096");
});

test("10,000 nested entries of all three classes validate (no pairwise comparison)", async ({ ws }) => {
  const n = 3334;
  const list = (f: (i: number) => string) => Array.from({ length: n }, (_, i) => `  - ${f(i)}`).join("\n");
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\nirreplaceable:\n${list((i) => `/srv/a${i}`)}\nrebuildable:\n${list((i) => `/srv/a${i}/cache`)}\nignored:\n${list((i) => `/srv/a${i}/cache/tmp`)}\n`,
  );
  const r = await runCli(["validate"], ws.env);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
});

test("restore into a directory that does not exist says so, with exit 2", async ({ ws }) => {
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [/srv]\n`);
  const r = await runCli(
    ["restore", "--host", "web1", "--database", "app", "--target", "/no/such/dir/app.sql"],
    ws.env,
  );
  expect(r.exitCode, r.stderr).toBe(2);
  expect(r.stderr).toContain("/no/such/dir does not exist: nowhere to write /no/such/dir/app.sql");
  clean(r.stderr);
});
