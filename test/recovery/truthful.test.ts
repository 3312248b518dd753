// A drill's PASSED must be proof: its checks test the drill machine and nothing else; the machine cannot reach
// production or the network, only the storage; its RPO is the oldest restored item's, and a breach fails it; a
// damaged repository is named as such; drift leaves out what a dump covers. Each test fails without its fix.
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { reportSubject, reportText } from "../../src/report/render.js";
import { formatDuration } from "../../src/util/duration.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, DB_IMAGE, RUN_OPTIONS, sh, startDbHost } from "../helpers/fleet.js";
import { FLEET_GATEWAY } from "../helpers/s3/start.js";
import { freePort } from "../helpers/sshd.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const prod = `lbt-prod-${tag}`;
let ws: Workspace;
let production: ContainerHost;
let prodAddress = "";
let publishedPort = 0;

const runbook = (host: string, body: string) => `host: ${host}
provider:
  container:
    image: localhost/${DB_IMAGE}
    runOptions: ${JSON.stringify(RUN_OPTIONS)}
${body}`;

async function writeRunbook(host: string, body: string): Promise<string> {
  const file = path.join(ws.root, `runbooks/${host}.yaml`);
  await writeFile(file, runbook(host, body));
  return file;
}

/** A drill's report, from its JSON output whether it passed or failed. */
async function drill(host: string): Promise<{ exitCode: number; report: RecoveryReport; code?: string }> {
  const r = await runCli(["--json", "drill", "--host", host], ws.env);
  const out = JSON.parse(r.stdout) as {
    result?: RecoveryReport;
    error?: { code: string; details?: { outcome?: RecoveryReport } };
  };
  const report = out.result ?? out.error?.details?.outcome;
  if (!report) throw new Error(`no report: ${r.stdout}\n${r.stderr}`);
  return { exitCode: r.exitCode, report, code: out.error?.code };
}

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  await execa("mkdir", ["-p", path.join(ws.root, "runbooks")]);
  // Production: a database host whose nginx answers on port 80 and on a port published on this machine.
  publishedPort = await freePort();
  production = await startDbHost(prod, [`--publish=${publishedPort}:80`]);
  prodAddress = await production.address();
  await sh(
    production.root,
    `nginx && mkdir -p /srv/app/uploads && echo precious > /srv/app/uploads/a.txt && sqlite3 /srv/app/app.db "create table t(x); insert into t values (1)"`,
  );
  await ws.writePolicy(
    "app.yaml",
    `host: app\ntransport: { container: ${prod} }\nirreplaceable:\n  - /srv/app/uploads\n  - sqlite: { path: /srv/app/app.db }\n`,
  );
}, 300_000);

afterAll(async () => {
  await production?.remove();
  await execa("rm", ["-rf", ws.root]);
});

test("a check that names production fails the drill with CHECK_NOT_ISOLATED, though production answers it", async () => {
  // The step that would start the service is missing, and the check's target is production's address.
  await writeRunbook(
    "app",
    `vars: { site: "${prodAddress}" }
steps:
  - restore
checks:
  - name: home page
    http: { url: "http://{{site}}/" }
`,
  );
  expect((await fetch(`http://${prodAddress}/`)).status).toBe(200);
  expect((await runCli(["snapshot", "--host", "app"], ws.env)).exitCode).toBe(0);
  const { exitCode, report, code } = await drill("app");
  expect(code).toBe("CHECK_NOT_ISOLATED");
  expect(exitCode).toBe(6);
  expect(report.verdict).toBe("failed");
  expect(report.checks[0]).toMatchObject({ status: "failed", code: "CHECK_NOT_ISOLATED", attempts: 0 });
  expect(report.checks[0]?.detail).toContain(`${prodAddress}`);
  expect(report.failure).toMatchObject({
    code: "CHECK_NOT_ISOLATED",
    hint: expect.stringContaining("{{address}}"),
  });

  // A fixed address is refused before anything runs, where it can be seen.
  await writeRunbook("app", `steps:\n  - restore\nchecks:\n  - http: { url: "http://${prodAddress}/" }\n`);
  const invalid = await runCli(["validate"], ws.env);
  expect(invalid.exitCode).toBe(2);
  expect(invalid.stderr).toContain(`checks[0].http.url: names the fixed address ${prodAddress}`);
});

test("a stage machine reaches the storage and nothing else: not production, not a port published here", async () => {
  const file = await writeRunbook("app", 'steps:\n  - restore\nchecks:\n  - command: "true"\n');
  const up = jsonResult<RecoveryReport>(
    await runCli(["--json", "stage", "up", "--host", "app", "--runbook", file, "--ttl", "10m"], ws.env),
  );
  try {
    expect(up.isolation).toMatchObject({ enforced: true });
    const tryConnect = async (address: string, port: number) =>
      (
        await execa(
          "podman",
          ["exec", up.machine, "timeout", "10", "bash", "-c", `exec 3<>/dev/tcp/${address}/${port}`],
          { reject: false },
        )
      ).stderr;
    // The storage it restores from: reachable.
    expect(await tryConnect(FLEET_GATEWAY, s3.port)).toBe("");
    // Production's container, and production's port published on this machine: refused at once.
    expect(await tryConnect(prodAddress, 80)).toMatch(/Connection refused/);
    expect(await tryConnect(FLEET_GATEWAY, publishedPort)).toMatch(/Connection refused/);
    // From this machine, production still answers on both: the refusal is the stage's alone.
    expect((await fetch(`http://${prodAddress}/`)).status).toBe(200);
    expect((await fetch(`http://${FLEET_GATEWAY}:${publishedPort}/`)).status).toBe(200);
  } finally {
    const down = await runCli(["stage", "down", up.runId], ws.env);
    expect(down.exitCode, down.stderr).toBe(0);
  }
  const tables = await execa("nft", ["list", "tables"]);
  expect(String(tables.stdout)).not.toContain(`lifeboat_${up.runId}`);
});

test("data older than the policy's RPO fails the drill: RPO_BREACHED, exit 15, BREACHED in the subject", async () => {
  await writeRunbook("app", 'steps:\n  - restore\nchecks:\n  - command: "true"\n');
  const policy = `${ws.policiesDir}/app.yaml`;
  const before = await readFile(policy, "utf8");
  await writeFile(policy, `${before}rpo: 2s\n`);
  try {
    expect((await runCli(["snapshot", "--host", "app"], ws.env)).exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 2500));
    const { exitCode, report, code } = await drill("app");
    expect(code).toBe("RPO_BREACHED");
    expect(exitCode).toBe(15);
    expect(report.verdict).toBe("failed");
    expect(report.rpo.met).toBe(false);
    expect(report.rpo.items.map((i) => [i.item, i.met])).toEqual(
      expect.arrayContaining([
        ["/srv/app/uploads", false],
        ["sqlite /srv/app/app.db", false],
      ]),
    );
    expect(reportSubject(report)).toMatch(
      /^\[lifeboat\] drill app FAILED at RPO — RTO .*, RPO \S+\/2s BREACHED \(/,
    );
    expect(reportText(report)).toContain("cause: RPO_BREACHED");
    // The checks still ran: the report shows everything the drill did.
    expect(report.checks[0]?.status).toBe("passed");
  } finally {
    await writeFile(policy, before);
  }
});

test("a dump that failed last night: the drill's RPO is that database's, from the run before", async () => {
  await writeRunbook("app", "steps:\n  - restore\nchecks:\n  - command: test -s /srv/app/app.db\n");
  expect((await runCli(["snapshot", "--host", "app"], ws.env)).exitCode).toBe(0);
  await new Promise((r) => setTimeout(r, 1500));
  // The next night the database file is unreadable: its dump fails, the files are saved.
  await sh(production.root, "mv /srv/app/app.db /srv/app/app.db.away");
  try {
    expect((await runCli(["snapshot", "--host", "app"], ws.env)).exitCode).not.toBe(0);
  } finally {
    await sh(production.root, "mv /srv/app/app.db.away /srv/app/app.db");
  }
  const { report } = await drill("app");
  expect(report.verdict).toBe("passed");
  const [oldest, ...rest] = report.rpo.items;
  expect(oldest).toMatchObject({ item: "sqlite /srv/app/app.db", kind: "dump", runsAgo: 1, met: true });
  expect(rest.map((i) => i.item)).toEqual(["/srv/app/uploads"]);
  expect((oldest?.ageSeconds ?? 0) - (rest[0]?.ageSeconds ?? 0)).toBeGreaterThan(1);
  // The report's RPO is the dump's, not the files' sentinel.
  expect(reportSubject(report)).toContain(`RPO ${formatDuration(oldest?.ageSeconds ?? 0)}/1d`);
  expect(reportText(report)).toContain("sqlite /srv/app/app.db: from run");
  expect(reportText(report)).toContain("1 run ago");
});

test("a damaged pack fails the drill with REPOSITORY_DAMAGED, restic's own words and what to do", async () => {
  await ws.writePolicy(
    "dmg.yaml",
    `host: dmg\ntransport: { container: ${prod} }\nirreplaceable: [/srv/app/uploads]\n`,
  );
  await writeRunbook("dmg", 'steps:\n  - restore\nchecks:\n  - command: "true"\n');
  await production.root.writeFile("/srv/app/uploads/big.bin", randomBytes(2_000_000));
  expect((await runCli(["snapshot", "--host", "dmg"], ws.env)).exitCode).toBe(0);
  // Flip bytes in the middle of every data pack of dmg's repository, as a failing disk under the bucket would.
  const prefix = path.join(s3.dir, "data", s3.bucket, `t-${path.basename(ws.root)}`, "dmg", "data");
  const packs = (await readdir(prefix, { recursive: true, withFileTypes: true })).filter(
    (e) => e.isFile() && e.name.endsWith("._S3rver_object"),
  );
  expect(packs.length).toBeGreaterThan(0);
  for (const p of packs) {
    const file = path.join(p.parentPath, p.name);
    const bytes = await readFile(file);
    const at = Math.floor((await stat(file)).size / 2);
    for (let i = 0; i < 64; i++) bytes[at + i] = (bytes[at + i] ?? 0) ^ 0xff;
    await writeFile(file, bytes);
  }
  const { report, code } = await drill("dmg");
  expect(code).toBe("REPOSITORY_DAMAGED");
  expect(report.failure).toMatchObject({ phase: "restore", code: "REPOSITORY_DAMAGED" });
  // Which file, which blob in which pack, and restic's own reason.
  expect(report.failure?.message).toMatch(
    /^restic restore of [0-9a-f]{8}: \d+ error\(s\): \/\S*: decrypting blob <(data|tree)\/[0-9a-f]+> from [0-9a-f]+ failed: ciphertext verification failed/,
  );
  expect(report.failure?.hint).toContain("lifeboat check --host dmg");
  expect(reportText(report)).toContain("cause: REPOSITORY_DAMAGED");
});

test("drift on a host with MariaDB leaves out its data directory, which the dump covers", async () => {
  await ws.writePolicy(
    "maria.yaml",
    `host: maria\ntransport: { container: ${prod} }\nirreplaceable:\n  - mysql: { database: shop }\nrebuildable: [/var/lib/mysql, /etc/mysql]\n`,
  );
  await sh(
    production.root,
    `mysql -e "create database if not exists shop; create table if not exists shop.items(id int primary key); insert ignore into shop.items values (1),(2)"`,
  );
  await writeRunbook(
    "maria",
    `steps:
  - name: start MariaDB
    shell: |
      install -d -o mysql -g mysql /run/mysqld
      (mariadbd --user=mysql >/dev/null 2>&1 &)
      for i in $(seq 100); do mysqladmin ping >/dev/null 2>&1 && exit 0; sleep 0.2; done
      echo "MariaDB did not start" >&2; exit 1
  - restore
checks:
  - sql: { mysql: { database: shop }, query: select count(*) from items, expect: "2" }
`,
  );
  expect((await runCli(["snapshot", "--host", "maria"], ws.env)).exitCode).toBe(0);
  const { report } = await drill("maria");
  expect(report.verdict, JSON.stringify(report.failure)).toBe("passed");
  expect(report.drift?.compared).toBe(true);
  expect(report.drift?.skipped).toEqual(["/var/lib/mysql"]);
  const listed = [
    ...(report.drift?.files.differ ?? []),
    ...(report.drift?.files.onlyProduction ?? []),
    ...(report.drift?.files.onlyRebuilt ?? []),
  ];
  expect(listed.filter((f) => f.startsWith("/var/lib/mysql/"))).toEqual([]);
});
