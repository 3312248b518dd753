// Database hosts recovered from their runbooks: the example db1 (PostgreSQL, policies/db1.yaml and
// runbooks/db1.yaml) and a MariaDB host. Rows written before the snapshot are there after the recovery, and
// the runbook's SQL check proves it.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { ContainerTransport } from "../../src/transport/container.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, containerRunbook, DB_IMAGE, psql, sh, startDbHost } from "../helpers/fleet.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const REPO = path.resolve(import.meta.dirname, "../..");
const pgName = `lbr-db1-${tag}`;
const myName = `lbr-shop-${tag}`;
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
rto: 10m
`,
    ),
  );
  const [pg, my] = await Promise.all([startDbHost(pgName), startDbHost(myName)]);
  if (!pg || !my) throw new Error("no database hosts");
  hosts.push(pg, my);
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
    ].join(" && "),
  );
}, 300_000);

afterAll(async () => {
  for (const h of hosts) await h.remove();
  await rm(ws.root, { recursive: true, force: true });
});

test("db1 (PostgreSQL) and a MariaDB host come back from their dumps; the SQL checks pass", async () => {
  const snap = await runCli(["snapshot", "--all"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
  // The disaster: both machines are gone.
  for (const h of hosts) await h.remove();

  const [pg, my] = await Promise.all([
    runCli(["--json", "recover", "--host", "db1"], ws.env),
    runCli(["--json", "recover", "--host", "shop"], ws.env),
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
  expect(shop.restored?.databases).toEqual([expect.objectContaining({ engine: "mysql", database: "shop" })]);
  expect(shop.checks[0]).toMatchObject({ status: "passed", detail: "returned 3 60" });
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
  const r = await runCli(["--json", "drill", "--host", "shop"], ws.env);
  expect(r.exitCode, r.stdout).toBe(6);
  const report = JSON.parse(r.stdout).error.details.outcome as RecoveryReport;
  expect(report.failure).toMatchObject({ phase: "verify", code: "CHECK_FAILED" });
  expect(report.checks[0]).toMatchObject({ status: "failed", attempts: 2 });
  expect(report.checks[0]?.detail).toBe('returned "3 60", expected "4\t100"');
  expect(report.cleanup).toBe("removed");
});
