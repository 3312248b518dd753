// Runbooks: every problem as file:line, the short forms spelled out, and the example runbooks valid.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { policyForHost } from "../../src/policy/load.js";
import { loadRunbook, renderTemplate } from "../../src/runbook/load.js";
import { formatProblem } from "../../src/yaml/located.js";
import { runCli } from "../helpers/cli.js";
import { test, type Workspace } from "../helpers/workspace.js";

async function runbookProblems(ws: Workspace, yaml: string): Promise<string[]> {
  await ws.writePolicy("web1.yaml", "host: web1\nirreplaceable: [/srv/uploads]\n");
  await mkdir(path.join(ws.root, "runbooks/files"), { recursive: true });
  await writeFile(path.join(ws.root, "runbooks/files/nginx.conf"), "server {}\n");
  await writeFile(path.join(ws.root, "runbooks/web1.yaml"), yaml);
  const config = await ws.config();
  const loaded = await loadRunbook(config, await policyForHost(config, "web1"), { cwd: ws.root });
  return loaded.ok ? [] : loaded.problems.map(formatProblem);
}

const PROVIDER = "provider: { container: { image: debian:bookworm } }\n";

test("a valid runbook loads with its short forms spelled out", async ({ ws }) => {
  expect(
    await runbookProblems(
      ws,
      `host: web1
${PROVIDER}steps:
  - apt: [nginx]
    timeout: 5m
  - files: { /etc/nginx/nginx.conf: files/nginx.conf }
  - restore
  - shell: nginx
checks:
  - http: { url: "http://{{address}}/" }
  - sql: { postgres: { database: app, runAs: postgres }, query: select 1, expect: "1" }
rto: 15m
`,
    ),
  ).toEqual([]);
  const config = await ws.config();
  const loaded = await loadRunbook(config, await policyForHost(config, "web1"), { cwd: ws.root });
  if (!loaded.ok) throw new Error("not loaded");
  const { runbook } = loaded;
  expect(runbook.provider).toEqual({
    kind: "container",
    image: "debian:bookworm",
    ports: [],
    command: ["sleep", "infinity"],
    runOptions: [],
    recoveryRunOptions: [],
  });
  expect(runbook.steps.map((s) => [s.kind, s.name, s.timeoutSeconds])).toEqual([
    ["apt", "apt nginx", 300],
    ["files", "files /etc/nginx/nginx.conf", 900],
    ["restore", "restore", 21_600],
    ["shell", "shell nginx", 900],
  ]);
  expect(runbook.checks[0]).toMatchObject({ kind: "http", status: 200, retries: 10, intervalSeconds: 2 });
  expect(runbook.checks[1]).toMatchObject({
    kind: "sql",
    database: "app",
    source: { engine: "postgres", runAs: "postgres" },
  });
  expect(runbook.rtoSeconds).toBe(900);
});

test("every mistake is listed with file:line", async ({ ws }) => {
  const problems = await runbookProblems(
    ws,
    `host: web2
${PROVIDER}steps:
  - apt: [nginx]
  - files: { /etc/nginx/nginx.conf: files/missing.conf }
  - restore
  - restore
checks:
  - http: { url: "http://{{adress}}/" }
`,
  );
  expect(problems).toEqual([
    `runbooks/web1.yaml:1: host: is "web2", but the policy ${ws.policiesDir}/web1.yaml is for "web1"`,
    `runbooks/web1.yaml:5: steps[1].files./etc/nginx/nginx.conf: ${ws.root}/runbooks/files/missing.conf does not exist`,
    "runbooks/web1.yaml:7: steps[3]: a second restore step; the data goes back once",
    "runbooks/web1.yaml:9: checks[0]: uses {{adress}}, which is not defined (define it under vars:)",
  ]);
  expect(await runbookProblems(ws, `host: web1\n${PROVIDER}steps:\n  - apt: [nginx]\n`)).toEqual([
    "runbooks/web1.yaml:3: steps: has no restore step: add `- restore` where the irreplaceable data goes back (after the packages, before the services start)",
  ]);
  expect(
    await runbookProblems(
      ws,
      `host: web1\nprovider: { lxc: {} }\nsteps:\n  - restore\n  - copy: x\nchecks:\n  - http: { url: "ftp://x" }\n  - sql: { postgres: { database: app }, query: select 1 }\nrto: soon\n`,
    ),
  ).toEqual([
    "runbooks/web1.yaml:2: provider: must be one of { container: ... }, { ssh: ... }, { command: ... }, { vm: ... }",
    "runbooks/web1.yaml:5: steps[1]: must be restore, or one of { apt }, { dnf }, { files }, { templates }, { shell }, { ansible }, { puppet } (with optional name, timeout)",
    "runbooks/web1.yaml:7: checks[0].http.url: must start with http:// or https://",
    "runbooks/web1.yaml:8: checks[1].sql: say what the query must return: expect or atLeast",
    "runbooks/web1.yaml:9: rto: must be a duration like 90s, 30m, 24h, 7d, 2w or 1h30m",
  ]);
});

test("templates: every {{variable}} filled in, an unknown one named", () => {
  expect(
    renderTemplate("<h1>{{ host }} at {{address}}</h1>", { host: "web1", address: "10.0.0.5" }, "f"),
  ).toBe("<h1>web1 at 10.0.0.5</h1>");
  expect(() => renderTemplate("{{site}}", { host: "web1" }, "files/index.html")).toThrow(
    "files/index.html uses {{site}}, which is not defined",
  );
});

test("the example policies and runbooks of the repository are valid", async () => {
  const r = await runCli(
    ["validate"],
    { ...process.env, LIFEBOAT_CONFIG: "" },
    path.resolve(import.meta.dirname, "../.."),
  );
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toContain("web1: snapshots /srv/app/uploads, /var/lib/app");
  expect(r.stdout).toMatch(/web1: .*; runbook valid/);
  expect(r.stdout).toMatch(/db1: snapshots postgres app .*; runbook valid/);
});

test("what would let a drill reach production is refused: sharing run options, checks naming production", async ({
  ws,
}) => {
  const problems = await runbookProblems(
    ws,
    `host: web1
provider:
  container:
    image: debian:bookworm
    runOptions: [--runtime, runc, -v, "/srv:/srv", "--network=host", --privileged]
    recoveryRunOptions: ["--volume=/srv/data:/srv/data"]
steps:
  - restore
checks:
  - http: { url: "http://10.0.0.5/" }
  - http: { url: "http://web1:8080/health" }
  - tcp: { port: 5432, host: localhost }
  - http: { url: "http://{{address}}/" }
  - tcp: { port: 22 }
`,
  );
  expect(problems).toEqual([
    "runbooks/web1.yaml:5: provider.container.runOptions[2]: -v mounts a volume or a host directory: a drill or stage machine must not; move it to recoveryRunOptions (used by `recover` only)",
    "runbooks/web1.yaml:5: provider.container.runOptions[4]: --network joins a network other than the drill's own: a drill or stage machine must not; move it to recoveryRunOptions (used by `recover` only)",
    "runbooks/web1.yaml:5: provider.container.runOptions[5]: --privileged gives the container the host's devices and powers: a drill or stage machine must not; move it to recoveryRunOptions (used by `recover` only)",
    "runbooks/web1.yaml:10: checks[0].http.url: names the fixed address 10.0.0.5: in a drill this check would test that, not the drill machine; name the machine as {{address}}",
    "runbooks/web1.yaml:11: checks[1].http.url: names production (web1): in a drill this check would test that, not the drill machine; name the machine as {{address}}",
    "runbooks/web1.yaml:12: checks[2].tcp.host: names localhost, which is the controller, not the machine under test: in a drill this check would test that, not the drill machine; name the machine as {{address}}",
  ]);
});
