// Database hosts recovered from their runbooks: the example db1 (PostgreSQL, policies/db1.yaml and
// runbooks/db1.yaml), a MariaDB host whose app logs in as its own user, and a Redis host. Rows and keys written
// before the snapshot are there after the recovery, and the runbook's checks prove it.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { ContainerTransport } from "../../src/transport/container.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, containerRunbook, DB_IMAGE, psql, sh, startDbHost } from "../helpers/fleet.js";
import { reportSchemaErrors } from "../helpers/report-schema.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const REPO = path.resolve(import.meta.dirname, "../..");
const pgName = `lbr-db1-${tag}`;
const myName = `lbr-shop-${tag}`;
const redisName = `lbr-cache-${tag}`;
// The shop app's own MariaDB login: its account is dumped and loaded before the database.
const SHOP_APP_PASSWORD = randomBytes(9).toString("base64url");
let ws: Workspace;
const hosts: ContainerHost[] = [];

const mysql = (sql: string): string => `mysql -N -B -e "${sql}"`;

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  // The example db1, with the test's container name and image.
  const policy = (await readFile(path.join(REPO, "policies/db1.yaml"), "utf8"))
    .replace("transport: { container: db1 }", `transport: { container: ${pgName} }`)
    .replace("repository: vault\n", "");
  await ws.writePolicy("db1.yaml", policy);
  await mkdir(path.join(ws.root, "runbooks"), { recursive: true });
  await writeFile(
    path.join(ws.root, "runbooks/db1.yaml"),
    (await readFile(path.join(REPO, "runbooks/db1.yaml"), "utf8")).replace(
      "image: localhost/lifeboat-base:bookworm",
      `image: localhost/${DB_IMAGE}`,
    ),
  );
  // A MariaDB host: the dump of the shop database, loaded into a fresh server.
  await ws.writePolicy(
    "shop.yaml",
    `host: shop\ntransport: { container: ${myName} }\nirreplaceable:\n  - mysql: { database: shop }\n`,
  );
  await writeFile(
    path.join(ws.root, "runbooks/shop.yaml"),
    containerRunbook(
      "shop",
      `steps:
  - apt: [mariadb-server]
  - name: start MariaDB
    shell: |
      (mysqld_safe >/dev/null 2>&1 &)
      for i in $(seq 100); do mysqladmin ping >/dev/null 2>&1 && exit 0; sleep 0.2; done
      echo "MariaDB did not start" >&2; exit 1
  - restore
checks:
  - name: every item is back
    sql:
      mysql: { database: shop }
      query: select count(*), sum(price) from items
      expect: "3\\t60"
  - name: the app logs in as its own user
    sql:
      mysql: { database: shop, user: shopapp, passwordEnv: SHOP_APP_PASSWORD }
      query: select count(*) from items
      expect: "3"
rto: 10m
`,
    ),
  );
  // A Redis host: its dataset (and a notes file) back, Redis started only after the restore step.
  await ws.writePolicy(
    "cache.yaml",
    `host: cache\ntransport: { container: ${redisName} }\nirreplaceable:\n  - /srv/notes\n  - redis: {}\n`,
  );
  await writeFile(
    path.join(ws.root, "runbooks/cache.yaml"),
    containerRunbook(
      "cache",
      `steps:
  - restore
  - name: start Redis
    shell: |
      install -d -o redis -g redis /run/redis
      runuser -u redis -- redis-server /etc/redis/redis.conf
      for i in $(seq 100); do redis-cli ping >/dev/null 2>&1 && exit 0; sleep 0.1; done
      echo "Redis did not start" >&2; exit 1
checks:
  - name: every key is back
    command: test "$(redis-cli dbsize)" = 1000 && test "$(redis-cli get k1000)" = v1000
rto: 10m
`,
    ),
  );
  const [pg, my, cache] = await Promise.all([
    startDbHost(pgName),
    startDbHost(myName),
    startDbHost(redisName),
  ]);
  if (!pg || !my || !cache) throw new Error("no database hosts");
  hosts.push(pg, my, cache);
  await sh(
    pg.root,
    [
      "runuser -u postgres -- createuser app",
      "runuser -u postgres -- createdb -O app app",
      psql("app", "create table orders (id serial primary key, item text not null)"),
      psql("app", "insert into orders (item) values ('boat'), ('oar'), ('life vest')"),
      psql("app", "alter table orders owner to app"),
    ].join(" && "),
  );
  await sh(
    my.root,
    [
      mysql("create database shop"),
      mysql("create table shop.items (id int primary key, price int)"),
      mysql("insert into shop.items values (1, 10), (2, 20), (3, 30)"),
      mysql(`create user shopapp@localhost identified by '${SHOP_APP_PASSWORD}'`),
      mysql("grant select on shop.* to shopapp@localhost"),
    ].join(" && "),
  );
  await sh(
    cache.root,
    [
      "install -d -o redis -g redis /run/redis",
      "runuser -u redis -- redis-server /etc/redis/redis.conf",
      "for i in $(seq 100); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done",
      "mkdir -p /srv/notes && echo 'buy oars' > /srv/notes/todo.txt",
    ].join(" && "),
  );
}, 300_000);

afterAll(async () => {
  for (const h of hosts) await h.remove();
  await rm(ws.root, { recursive: true, force: true });
});

test("db1 (PostgreSQL) and a MariaDB host come back from their dumps; the SQL checks pass", async () => {
  const snap = await runCli(["snapshot", "--host", "db1"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
  const shopSnap = await runCli(["snapshot", "--host", "shop"], ws.env);
  expect(shopSnap.exitCode, shopSnap.stderr).toBe(0);
  // The disaster: both machines are gone.
  for (const h of hosts.filter((h) => h.name === pgName || h.name === myName)) await h.remove();

  const [pg, my] = await Promise.all([
    runCli(["--json", "recover", "--host", "db1"], ws.env),
    runCli(["--json", "recover", "--host", "shop"], { ...ws.env, SHOP_APP_PASSWORD }),
  ]);
  const db1 = jsonResult<RecoveryReport>(pg);
  expect(db1.verdict).toBe("passed");
  expect(db1.restored?.databases.map((d) => d.database)).toEqual(["roles", "app"]);
  expect(db1.checks.map((c) => [c.name, c.status])).toEqual([
    ["the app database answers", "passed"],
    ["PostgreSQL listens", "passed"],
  ]);
  const back = new ContainerTransport("db1", pgName, "podman");
  expect(await sh(back, psql("app", "select string_agg(item, ',' order by id) from orders"))).toBe(
    "boat,oar,life vest\n",
  );
  // The role came back before the database, so the table still belongs to it.
  expect(await sh(back, psql("app", "select tableowner from pg_tables where tablename = 'orders'"))).toBe(
    "app\n",
  );

  const shop = jsonResult<RecoveryReport>(my);
  expect(shop.verdict).toBe("passed");
  // The accounts first: the app's user and its grant exist before its database does.
  expect(shop.restored?.databases).toEqual([
    expect.objectContaining({ engine: "mysql", database: "accounts" }),
    expect.objectContaining({ engine: "mysql", database: "shop" }),
  ]);
  expect(shop.checks.map((c) => [c.name, c.status, c.detail])).toEqual([
    ["every item is back", "passed", "returned 3 60"],
    ["the app logs in as its own user", "passed", "returned 3"],
  ]);
});

test("a SQL check that does not hold fails the drill with what the query returned", async () => {
  const file = path.join(ws.root, "runbooks/shop.yaml");
  const broken = (await readFile(file, "utf8"))
    .replace('expect: "3\\t60"', 'expect: "4\\t100"')
    .replace(
      "  - name: every item is back",
      "  - name: every item is back\n    retries: 1\n    interval: 1s",
    );
  await writeFile(file, broken);
  const r = await runCli(["--json", "drill", "--host", "shop"], { ...ws.env, SHOP_APP_PASSWORD });
  expect(r.exitCode, r.stdout).toBe(6);
  const report = JSON.parse(r.stdout).error.details.outcome as RecoveryReport;
  expect(report.failure).toMatchObject({ phase: "verify", code: "CHECK_FAILED" });
  expect(report.checks[0]).toMatchObject({ status: "failed", attempts: 2 });
  expect(report.checks[0]?.detail).toBe('returned "3 60", expected "4\t100"');
  expect(report.cleanup).toBe("removed");
});

test("Redis written right before the snapshot comes back with every key; one file is put back in place", async () => {
  const cache = hosts.find((h) => h.name === redisName);
  if (!cache) throw new Error("no cache host");
  // Written just before the snapshot and never saved by Redis itself: only a consistent copy has them.
  await sh(cache.root, 'for i in $(seq 1 1000); do echo "SET k$i v$i"; done | redis-cli >/dev/null');
  expect(await sh(cache.root, "ls /var/lib/redis")).toBe("");
  const snap = await runCli(["--json", "snapshot", "--host", "cache"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
  const listed = jsonResult<Array<{ holds: string }>>(
    await runCli(["--json", "snapshots", "--host", "cache"], ws.env),
  );
  expect(listed.map((s) => s.holds).sort()).toEqual(["files", "redis 6379"]);
  await cache.remove();

  const r = await runCli(["--json", "recover", "--host", "cache"], ws.env);
  const report = jsonResult<RecoveryReport>(r);
  expect(report.verdict, r.stdout).toBe("passed");
  expect(report.restored?.databases).toEqual([
    expect.objectContaining({ engine: "redis", database: "6379" }),
  ]);
  expect(report.dumps).toEqual([
    expect.objectContaining({ engine: "redis", file: "redis-6379.rdb", runsAgo: 0 }),
  ]);
  expect(report.checks[0]).toMatchObject({ name: "every key is back", status: "passed" });
  const back = new ContainerTransport("cache", redisName, "podman");
  expect(await sh(back, "stat -c %U /var/lib/redis/dump.rdb")).toBe("redis\n");
  // The report, as recover printed it and as `report --json` reads it from the catalog, is what the published
  // JSON Schema says.
  expect(reportSchemaErrors(report)).toEqual([]);
  const stored = jsonResult<RecoveryReport>(await runCli(["--json", "report", "--host", "cache"], ws.env));
  expect(stored.runId).toBe(report.runId);
  expect(reportSchemaErrors(stored)).toEqual([]);

  // The everyday request on the recovered machine: yesterday's note, put back in place over today's.
  await sh(back, "echo 'buy sails' > /srv/notes/todo.txt");
  const put = await runCli(
    ["--json", "restore", "--host", "cache", "--path", "/srv/notes/todo.txt", "--in-place", "--force"],
    ws.env,
  );
  expect(put.exitCode, put.stderr).toBe(0);
  const kept = jsonResult<{ kept: string }>(put).kept;
  expect(await sh(back, "cat /srv/notes/todo.txt")).toBe("buy oars\n");
  expect(await sh(back, `cat ${kept}`)).toBe("buy sails\n");
  expect(await sh(back, "ls -a /srv/notes | grep -c lifeboat-restore || true")).toBe("0\n");
});

test("a recovery whose runbook starts Redis before the restore step fails and says so", async () => {
  const file = path.join(ws.root, "runbooks/cache.yaml");
  const original = await readFile(file, "utf8");
  // The same steps with the restore last: Redis would ignore the file and overwrite it.
  await writeFile(file, original.replace("  - restore\n", "").replace("checks:", "  - restore\nchecks:"));
  try {
    const r = await runCli(["--json", "drill", "--host", "cache"], ws.env);
    expect(r.exitCode).not.toBe(0);
    const report = JSON.parse(r.stdout).error.details.outcome as RecoveryReport;
    expect(report.failure?.code).toBe("LOAD_FAILED");
    expect(report.failure?.message).toContain("the runbook must start it after the restore step");
  } finally {
    await writeFile(file, original);
  }
});
