import { expect } from "vitest";
import { loadPolicies } from "../../src/policy/load.js";
import { formatProblem } from "../../src/yaml/located.js";
import { runCli } from "../helpers/cli.js";
import { test, type Workspace } from "../helpers/workspace.js";

async function problemsOf(ws: Workspace): Promise<string[]> {
  const config = await ws.config();
  return (await loadPolicies(config, ws.policiesDir, ws.root)).problems.map(formatProblem);
}

const valid = `host: web1
irreplaceable:
  - /srv/app/uploads
`;

test("a valid policy loads with the defaults of lifeboat.yaml", async ({ ws }) => {
  await ws.writePolicy("web1.yaml", valid);
  const config = await ws.config();
  const set = await loadPolicies(config, ws.policiesDir, ws.root);
  expect(set.problems).toEqual([]);
  expect(set.policies).toHaveLength(1);
  expect(set.policies[0]).toMatchObject({
    host: "web1",
    transport: { kind: "local" },
    installRestic: true,
    snapshotTimeout: "6h",
    repository: "primary",
    schedule: "30 2 * * *",
    rpo: "24h",
    rpoSeconds: 86_400,
    retention: { daily: 7, weekly: 4, monthly: 6 },
  });
});

test.for([
  [
    "unknown keys",
    `host: web1\nirreplaceable: [/a]\ncolour: blue\n`,
    'policies/p.yaml:3: colour: unknown key "colour"',
  ],
  [
    "unknown nested keys",
    `host: web1\nirreplaceable: [/a]\nretention:\n  daily: 3\n  fortnightly: 2\n`,
    'policies/p.yaml:5: retention.fortnightly: unknown key "fortnightly"',
  ],
  [
    "relative paths",
    `host: web1\nirreplaceable:\n  - /ok\n  - srv/app\n`,
    'policies/p.yaml:4: irreplaceable[1]: "srv/app" must be an absolute path (start with /)',
  ],
  [
    "'..' segments",
    `host: web1\nirreplaceable: [/a]\nrebuildable:\n  - /srv/app/../../etc\n`,
    'policies/p.yaml:4: rebuildable[0]: "/srv/app/../../etc" must not contain ".." segments',
  ],
  [
    "the same path twice in one class",
    `host: web1\nirreplaceable:\n  - /srv/a\n  - /srv/b\n  - /srv/a/\n`,
    "policies/p.yaml:5: irreplaceable[2]: /srv/a is listed twice (first at line 3); give each path one class",
  ],
  [
    "the same path in two classes",
    `host: web1\nirreplaceable:\n  - /srv/a\nignored:\n  - /srv/a\n`,
    "policies/p.yaml:5: ignored[0]: /srv/a is listed in both irreplaceable and ignored (first at line 3); give each path one class",
  ],
  [
    "invalid cron",
    `host: web1\nschedule: "61 2 * * *"\nirreplaceable: [/a]\n`,
    'policies/p.yaml:2: schedule: "61 2 * * *" is not a valid cron schedule: Constraint error, got value 61 expected range 0-59',
  ],
  [
    "a cron with too few fields",
    `host: web1\nschedule: "2 * *"\nirreplaceable: [/a]\n`,
    'policies/p.yaml:2: schedule: "2 * *" has 3 fields; a cron schedule has 5 (minute hour day month weekday) or 6 (seconds first)',
  ],
  [
    "unknown repository names",
    `host: web1\nrepository: offsite\nirreplaceable: [/a]\n`,
    'policies/p.yaml:2: repository: unknown storage target "offsite"; lifeboat.yaml defines: primary',
  ],
  [
    "an invalid rpo",
    `host: web1\nrpo: one day\nirreplaceable: [/a]\n`,
    "policies/p.yaml:2: rpo: must be a duration like 90s, 30m, 24h, 7d, 2w or 1h30m",
  ],
  [
    "a redundant nested entry of the same class",
    `host: web1\nirreplaceable: [/a]\nrebuildable:\n  - /srv\n  - /srv/lib\n`,
    "policies/p.yaml:5: rebuildable[1]: /srv/lib is inside rebuildable /srv (line 4) and so already rebuildable; remove one",
  ],
  [
    "a negated exclude pattern",
    `host: web1\nirreplaceable: [/a]\nexclude:\n  - "!/srv/app"\n`,
    "policies/p.yaml:4: exclude[0]: negated patterns would read data outside the irreplaceable class; classify the path instead",
  ],
  [
    "an unknown transport",
    `host: web1\ntransport: { rsync: web1 }\nirreplaceable: [/a]\n`,
    'policies/p.yaml:2: transport: must be local, { ssh: "user@address" } or { container: name }',
  ],
  [
    "an ssh destination that would be an option",
    `host: web1\ntransport: { ssh: "-oProxyCommand=sh" }\nirreplaceable: [/a]\n`,
    "policies/p.yaml:2: transport",
  ],
  ["YAML syntax errors", `host: web1\nirreplaceable: [/a\n`, "policies/p.yaml:"],
] as const)("rejects %s with a file:line error", async ([, yaml, expected], { ws }) => {
  await ws.writePolicy("p.yaml", yaml);
  const problems = await problemsOf(ws);
  expect(
    problems.some((p) => p.startsWith(expected)),
    problems.join("\n"),
  ).toBe(true);
});

// Hosts reached over ssh or a container run restic themselves: their repositories must be in object storage.
const REMOTE_CONFIG = `targets:
  primary: { type: local }
  offsite: { type: s3, endpoint: "https://s3.example.internal:9000", bucket: lifeboat, pathStyle: true }
defaults:
  repository: offsite
`;

test("reads every form of transport, short and long", async ({ ws }) => {
  await ws.writeConfig(REMOTE_CONFIG);
  await ws.writePolicy("a.yaml", `host: a\ntransport: { ssh: deploy@10.0.0.5 }\nirreplaceable: [/a]\n`);
  await ws.writePolicy(
    "b.yaml",
    `host: b\ntransport:\n  ssh: { destination: db, port: 2222, identityFile: /k }\ninstallRestic: false\nirreplaceable: [/a]\n`,
  );
  await ws.writePolicy("c.yaml", `host: c\ntransport: { container: web1 }\nirreplaceable: [/a]\n`);
  await ws.writePolicy(
    "d.yaml",
    `host: d\ntransport: { container: { name: web1, engine: docker, user: app } }\nsnapshotTimeout: 30m\nirreplaceable: [/a]\n`,
  );
  const set = await loadPolicies(await ws.config(), ws.policiesDir, ws.root);
  expect(set.problems).toEqual([]);
  expect(set.policies.map((p) => [p.transport, p.installRestic, p.snapshotTimeoutSeconds])).toEqual([
    [{ kind: "ssh", destination: "deploy@10.0.0.5" }, true, 21_600],
    [{ kind: "ssh", destination: "db", port: 2222, identityFile: "/k" }, false, 21_600],
    [{ kind: "container", name: "web1" }, true, 21_600],
    [{ kind: "container", name: "web1", engine: "docker", user: "app" }, true, 1800],
  ]);
});

test("databases under irreplaceable: every form loads; mistakes get file:line errors", async ({ ws }) => {
  await ws.writePolicy(
    "db1.yaml",
    `host: db1
irreplaceable:
  - /srv/uploads
  - postgres: { database: app, runAs: postgres }
  - mysql: { database: [shop, crm], user: backup, passwordEnv: SHOP_DB_PASSWORD, options: [--skip-lock-tables] }
  - postgres: { database: all, host: db.internal, port: 5433, user: dump, passwordFile: /etc/lifeboat/pgpass }
  - sqlite: { path: /srv/app/app.db }
  - redis: {}
  - redis: { name: sessions, socket: /run/redis/sessions.sock, passwordEnv: REDIS_PW, dir: /srv/redis, owner: app }
`,
  );
  const set = await loadPolicies(await ws.config(), ws.policiesDir, ws.root);
  expect(set.problems).toEqual([]);
  expect(set.policies[0]?.entries).toEqual([{ path: "/srv/uploads", dataClass: "irreplaceable" }]);
  expect(set.policies[0]?.databases).toEqual([
    { engine: "postgres", databases: ["app"], runAs: "postgres", options: [], roles: true },
    {
      engine: "mysql",
      databases: ["shop", "crm"],
      user: "backup",
      passwordEnv: "SHOP_DB_PASSWORD",
      options: ["--skip-lock-tables"],
      accounts: true,
    },
    {
      engine: "postgres",
      databases: "all",
      host: "db.internal",
      port: 5433,
      user: "dump",
      passwordFile: "/etc/lifeboat/pgpass",
      options: [],
      roles: true,
    },
    { engine: "sqlite", databases: ["/srv/app/app.db"], runAs: undefined, options: [] },
    {
      engine: "redis",
      databases: ["6379"],
      options: [],
      redis: { socket: undefined, dir: "/var/lib/redis", dbfilename: "dump.rdb", owner: "redis" },
    },
    {
      engine: "redis",
      databases: ["sessions"],
      passwordEnv: "REDIS_PW",
      options: [],
      redis: { socket: "/run/redis/sessions.sock", dir: "/srv/redis", dbfilename: "dump.rdb", owner: "app" },
    },
  ]);

  await ws.writePolicy(
    "db1.yaml",
    `host: db1
irreplaceable:
  - postgres: { database: "app; drop", password: hunter2 }
  - mysql: { database: shop, passwordEnv: A, passwordFile: /b }
  - redis: { database: 0 }
  - redis: { socket: /run/redis.sock, port: 6380 }
`,
  );
  const problems = await problemsOf(ws);
  expect(problems).toEqual([
    "policies/db1.yaml:3: irreplaceable[0].postgres.database: must be a database name: letters, digits, _ $ -",
    'policies/db1.yaml:3: irreplaceable[0].postgres.password: unknown key "password"',
    "policies/db1.yaml:4: irreplaceable[1].mysql: set passwordEnv or passwordFile, not both",
    'policies/db1.yaml:5: irreplaceable[2].redis.database: unknown key "database"',
    "policies/db1.yaml:6: irreplaceable[3].redis: set socket, or host and port, not both",
  ]);
});

test("validate says how each host is reached", async ({ ws }) => {
  await ws.writeConfig(REMOTE_CONFIG);
  await ws.writePolicy("a.yaml", `host: a\ntransport: { ssh: deploy@10.0.0.5 }\nirreplaceable: [/srv/a]\n`);
  await ws.writePolicy("b.yaml", `host: b\ntransport: { container: web1 }\nirreplaceable: [/srv/b]\n`);
  await ws.writePolicy("c.yaml", `host: c\nrepository: primary\nirreplaceable: [/srv/c]\n`);
  const r = await runCli(["validate"], ws.env);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toContain(
    "a: snapshots /srv/a (0 exclude rules) -> offsite (on the host, reached by ssh deploy@10.0.0.5); no runbook",
  );
  expect(r.stdout).toContain(
    "b: snapshots /srv/b (0 exclude rules) -> offsite (on the host, reached by container web1); no runbook",
  );
  expect(r.stdout).toMatch(/^ {2}c: snapshots \/srv\/c \(0 exclude rules\) -> primary; no runbook/m);
});

test("a host reached over ssh or a container cannot use a directory target on this machine", async ({
  ws,
}) => {
  await ws.writePolicy("b.yaml", `host: b\ntransport: { container: web1 }\nirreplaceable: [/srv/b]\n`);
  const problems = await problemsOf(ws);
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(
    /^policies\/b\.yaml:2: transport: host b is reached over container, but its storage target "primary" is a directory on this machine/,
  );
  expect(problems[0]).toContain("use an s3 target");
});

test("rejects a missing runbook file, and accepts one that exists", async ({ ws }) => {
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [/a]\nrunbook: runbooks/web1.yaml\n`);
  const problems = await problemsOf(ws);
  expect(problems).toEqual([
    `policies/web1.yaml:3: runbook: runbook file ${ws.root}/runbooks/web1.yaml does not exist; create it or remove the runbook key`,
  ]);
  await ws.writeData({});
  const { mkdir, writeFile } = await import("node:fs/promises");
  await mkdir(`${ws.root}/runbooks`);
  await writeFile(`${ws.root}/runbooks/web1.yaml`, "host: web1\n");
  expect(await problemsOf(ws)).toEqual([]);
});

test("rejects duplicate host names across files, pointing at the first", async ({ ws }) => {
  await ws.writePolicy("a.yaml", valid);
  await ws.writePolicy("b.yaml", `# second\n${valid}`);
  expect(await problemsOf(ws)).toEqual([
    'policies/b.yaml:2: host: host "web1" is already defined in policies/a.yaml:1; one policy per host',
  ]);
});

test("reports every problem of every file in one run, sorted by file and line", async ({ ws }) => {
  await ws.writePolicy(
    "a.yaml",
    `host: web1\ncolour: blue\nschedule: "* * * * * * *"\nrepository: nowhere\nirreplaceable:\n  - rel\n  - /x\n  - /x\n`,
  );
  await ws.writePolicy("b.yaml", `host: web1\nirreplaceable: [/y]\nrpo: soon\n`);
  const problems = await problemsOf(ws);
  expect(problems.map((p) => p.split(": ")[0])).toEqual([
    "policies/a.yaml:2",
    "policies/a.yaml:3",
    "policies/a.yaml:4",
    "policies/a.yaml:6",
    "policies/a.yaml:8",
    "policies/b.yaml:1",
    "policies/b.yaml:3",
  ]);
});

test("nesting refines: irreplaceable inside rebuildable inside irreplaceable is valid", async ({ ws }) => {
  await ws.writePolicy(
    "web1.yaml",
    `host: web1
irreplaceable:
  - /srv/app/uploads
  - /srv/app/config/keys
rebuildable:
  - /srv/app
ignored:
  - /srv/app/uploads/.cache
`,
  );
  expect(await problemsOf(ws)).toEqual([]);
});

test("a policy without irreplaceable data is rejected with what to do", async ({ ws }) => {
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: []\n`);
  expect(await problemsOf(ws)).toEqual([
    "policies/web1.yaml:2: irreplaceable: list at least one irreplaceable path or database; a host with nothing irreplaceable needs no policy",
  ]);
});

test("the example policies in the repository are valid", async () => {
  const { loadConfig } = await import("../../src/config/load.js");
  const root = new URL("../..", import.meta.url).pathname;
  const config = await loadConfig({ cwd: root, env: { ...process.env, LIFEBOAT_CONFIG: "" } });
  const set = await loadPolicies(config, config.policiesDir, root);
  expect(set.problems.map(formatProblem)).toEqual([]);
  expect(set.policies.map((p) => p.host).sort()).toEqual(["db1", "web1"]);
});
