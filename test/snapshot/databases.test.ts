// Databases in a policy: PostgreSQL (all databases, peer auth), MariaDB (a user with a password from the
// controller's environment) and SQLite on a database host of the fleet, one snapshot per database.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, expect, inject, vi } from "vitest";
import type { DoctorCheck } from "../../src/admin/doctor.js";
import { listRuns, readRecord } from "../../src/catalog/records.js";
import { loadPolicies } from "../../src/policy/load.js";
import { loadDatabase, loadRoles } from "../../src/restore/load.js";
import { jsonResult, runCli, startCli } from "../helpers/cli.js";
import { type ContainerHost, psql, sh, startDbHost } from "../helpers/fleet.js";
import { argvsDuring } from "../helpers/proc.js";
import { test, type Workspace } from "../helpers/workspace.js";

// Whole database hosts start and restic runs inside them: minutes, not the default 60 s, on a busy machine.
vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const shopPassword = `shop-${randomBytes(10).toString("hex")}`;
let db1: ContainerHost;

beforeAll(async () => {
  db1 = await startDbHost(`lb-dbs-${randomBytes(3).toString("hex")}`);
  await sh(db1.root, "runuser -u postgres -- createdb app");
  await sh(
    db1.root,
    psql(
      "app",
      "create table customers(id int primary key); create table orders(id serial primary key, customer int references customers(id)); insert into customers select generate_series(1, 100); insert into orders(customer) select 1 + i % 100 from generate_series(1, 1000) i;",
    ),
  );
  await sh(
    db1.root,
    `mysql -e "create database shop; create table shop.items(id int primary key); insert into shop.items values (1),(2),(3); create user backup@localhost identified by '${shopPassword}'; grant select, lock tables, show view, event, trigger on *.* to backup@localhost;"`,
  );
  await sh(
    db1.root,
    `mkdir -p /srv/files /srv/app && echo kept > /srv/files/a.txt && sqlite3 /srv/app/app.db "create table notes(t); insert into notes values ('x'),('y');"`,
  );
}, 300_000);
afterAll(async () => {
  await db1?.remove();
});

async function setUp(ws: Workspace): Promise<void> {
  await ws.useFleetS3(s3);
  await ws.writePolicy(
    "db1.yaml",
    `host: db1
transport: { container: ${db1.name} }
irreplaceable:
  - /srv/files
  - postgres: { database: all, runAs: postgres }
  - mysql: { database: shop, user: backup, passwordEnv: SHOP_DB_PASSWORD }
  - sqlite: { path: /srv/app/app.db }
`,
  );
}

type Outcome = {
  filesSnapshotId: string;
  dumps: Array<{ engine: string; database: string; file: string; snapshotId: string }>;
};

/** Restores one database's newest dump here with the CLI, then puts the file on the host for loading. */
async function dumpOnHost(ws: Workspace, database: string, name: string): Promise<string> {
  const target = `${ws.root}/${name}`;
  const r = await runCli(
    ["--json", "restore", "--host", "db1", "--database", database, "--target", target],
    ws.env,
  );
  expect(jsonResult<{ verified: boolean }>(r).verified).toBe(true);
  await db1.root.writeFile(`/tmp/${name}`, await readFile(target), 0o644);
  return `/tmp/${name}`;
}

test("every database gets its own snapshot, with its password only in environments; each dump loads back", async ({
  ws,
}) => {
  await setUp(ws);
  const env = { ...ws.env, SHOP_DB_PASSWORD: shopPassword };
  const run = startCli(["--json", "--log-level", "trace", "snapshot", "--host", "db1"], env);
  const argvs = await argvsDuring(run);
  const r = await run;
  const out = jsonResult<Outcome>({
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  });
  expect(out.filesSnapshotId).toMatch(/^[0-9a-f]{64}$/);
  expect(out.dumps.map((d) => `${d.engine} ${d.database} ${d.file}`).sort()).toEqual([
    "mysql accounts mysql.accounts.sql",
    "mysql shop mysql-shop.sql",
    "postgres app postgres-app.sql",
    "postgres postgres postgres-postgres.sql",
    "postgres roles postgres.roles.sql",
    "sqlite /srv/app/app.db sqlite-srv_app_app.db.sql",
  ]);
  // The dumps really ran (seen in the process list), and the password was in none of them.
  expect(argvs.some((a) => a.includes("mysqldump") && a.includes("--databases -- shop"))).toBe(true);
  expect(argvs.filter((a) => a.includes(shopPassword))).toEqual([]);
  expect(String(r.stdout) + String(r.stderr)).not.toContain(shopPassword);

  const pg = await dumpOnHost(ws, "app", "app.sql");
  await sh(
    db1.root,
    `runuser -u postgres -- createdb restored && runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d restored < ${pg}`,
  );
  expect(
    (
      await sh(
        db1.root,
        psql("restored", "select count(*) from orders join customers on customers.id = orders.customer"),
      )
    ).trim(),
  ).toBe("1000");
  const my = await dumpOnHost(ws, "shop", "shop.sql");
  await sh(db1.root, `mysql -e "drop database shop" && mysql < ${my}`);
  expect((await sh(db1.root, `mysql -N -e "select count(*) from shop.items"`)).trim()).toBe("3");
  const lite = await dumpOnHost(ws, "/srv/app/app.db", "app-db.sql");
  const none = await runCli(
    ["--json", "restore", "--host", "db1", "--database", "nope", "--target", `${ws.root}/x`],
    ws.env,
  );
  expect(none.exitCode).toBe(2);
  expect(JSON.parse(none.stdout).error).toMatchObject({
    code: "SNAPSHOT_NOT_FOUND",
    hint: "Dumps there: mysql-shop, mysql.accounts, postgres-app, postgres-postgres, postgres.roles, sqlite-srv_app_app.db.",
  });
  await sh(db1.root, `sqlite3 /tmp/restored.db < ${lite}`);
  expect((await sh(db1.root, `sqlite3 /tmp/restored.db "select group_concat(t) from notes"`)).trim()).toBe(
    "x,y",
  );
  // "latest" still means the files.
  const files = await runCli(["--json", "restore", "--host", "db1", "--target", `${ws.root}/files`], ws.env);
  expect(jsonResult<{ snapshotId: string }>(files).snapshotId).toBe(out.filesSnapshotId);

  // Neither the catalog nor anything else stored holds the password.
  const { readdir } = await import("node:fs/promises");
  const root = `${s3.dir}/data/${s3.bucket}`;
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.parentPath.includes("_catalog")) continue;
    expect((await readFile(`${e.parentPath}/${e.name}`, "utf8")).includes(shopPassword)).toBe(false);
  }
});

test("a database whose password is not set fails the run with what to do; the other data is still saved", async ({
  ws,
}) => {
  await setUp(ws);
  const r = await runCli(["--json", "snapshot", "--host", "db1"], ws.env);
  expect(r.exitCode).toBe(7);
  const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } }).error;
  expect(error).toMatchObject({
    code: "CREDENTIALS_MISSING",
    // And it says what was saved all the same: the files and the PostgreSQL and SQLite dumps (how many depends on
    // the databases earlier tests left on the server: `database: all`).
    message: expect.stringMatching(
      /^1 database dump\(s\) of db1 failed \(mysql shop\): the mysql password variable SHOP_DB_PASSWORD is not set\. Still saved: the files \(snapshot [0-9a-f]{8}\) and \d+ other dump\(s\)$/,
    ),
    hint: expect.stringContaining("Export SHOP_DB_PASSWORD"),
  });
  const snaps = jsonResult<Array<{ paths: string[] }>>(
    await runCli(["--json", "snapshots", "--host", "db1"], ws.env),
  );
  // "all" also finds databases created since (the other test's "restored"): it is listed at each run.
  const paths = snaps.map((s) => s.paths.join(","));
  expect(paths).toEqual(
    expect.arrayContaining([
      "/postgres-app.sql",
      "/postgres-postgres.sql",
      "/sqlite-srv_app_app.db.sql",
      "/srv/files",
    ]),
  );
  expect(paths).not.toContain("/mysql-shop.sql");
  // doctor says so before the night's run, and passes once the variable is there.
  const check = async (env: NodeJS.ProcessEnv) => {
    const d = await runCli(["--json", "doctor"], env);
    return (JSON.parse(d.stdout) as { result: DoctorCheck[] }).result.find(
      (c) => c.name === "databases of db1",
    );
  };
  expect(await check(ws.env)).toMatchObject({ ok: false, code: "CREDENTIALS_MISSING" });
  expect(await check({ ...ws.env, SHOP_DB_PASSWORD: shopPassword })).toMatchObject({
    ok: true,
    detail: expect.stringMatching(
      /^reachable: postgres app, postgres.*; mysql shop; sqlite \/srv\/app\/app\.db$/,
    ),
  });
  expect(await check({ ...ws.env, SHOP_DB_PASSWORD: "wrong" })).toMatchObject({
    ok: false,
    code: "DUMP_FAILED",
    detail: expect.stringContaining("Access denied for user 'backup'"),
  });
  const catalog = await ws.catalog();
  const last = (await listRuns(catalog, "db1")).at(-1);
  expect(await readRecord(catalog, last?.endKey ?? "")).toMatchObject({
    outcome: "failed",
    error: { code: "CREDENTIALS_MISSING" },
  });
});

test("dumps taken while the databases are being written are consistent: money moved between accounts still adds up", async ({
  ws,
}) => {
  // Every transaction moves 1 between two accounts and logs the move: a torn copy would not add up to 1000.
  await sh(
    db1.root,
    psql(
      "app",
      "create table accounts(id int primary key, balance int); insert into accounts select i, 100 from generate_series(1, 10) i; create table moves(id serial primary key, source int references accounts(id), sink int references accounts(id));",
    ),
  );
  await sh(
    db1.root,
    `mysql -e "create table shop.accounts(id int primary key, balance int) engine=innodb; insert into shop.accounts values (1,500),(2,500); create table shop.moves(id int auto_increment primary key) engine=innodb;"`,
  );
  await db1.root.writeFile(
    "/usr/local/bin/writers",
    `#!/bin/sh
runuser -u postgres -- psql -q -d app -c "do \\$\\$ begin for i in 1..1000000 loop update accounts set balance = balance - 1 where id = 1 + i % 10; update accounts set balance = balance + 1 where id = 1 + (i + 3) % 10; insert into moves(source, sink) values (1 + i % 10, 1 + (i + 3) % 10); commit; end loop; end \\$\\$" &
while true; do mysql -e "start transaction; update shop.accounts set balance = balance - 1 where id = 1; update shop.accounts set balance = balance + 1 where id = 2; insert into shop.moves values (); commit;"; done &
wait
`,
    0o755,
  );
  await setUp(ws);
  const writers = (await import("execa")).execa(
    "podman",
    ["exec", db1.name, "setsid", "/usr/local/bin/writers"],
    {
      reject: false,
    },
  );
  try {
    // Let them get going, then snapshot while they write.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const before = Number(await sh(db1.root, psql("app", "select count(*) from moves")));
    expect(before).toBeGreaterThan(0);
    const r = await runCli(["--json", "snapshot", "--host", "db1"], {
      ...ws.env,
      SHOP_DB_PASSWORD: shopPassword,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const after = Number(await sh(db1.root, psql("app", "select count(*) from moves")));
    expect(after).toBeGreaterThan(before);
  } finally {
    // The writers run in their own process group (setsid): stop the whole group.
    await sh(
      db1.root,
      'for p in /proc/[0-9]*; do grep -qs /usr/local/bin/writers "$p/cmdline" && kill -TERM -- "-${p#/proc/}"; done; true',
    ).catch(() => {});
    await sh(
      db1.root,
      psql("postgres", "select pg_terminate_backend(pid) from pg_stat_activity where query like 'do %'"),
    ).catch(() => {});
    writers.kill("SIGKILL");
  }
  const pg = await dumpOnHost(ws, "app", "app-consistent.sql");
  await sh(
    db1.root,
    `runuser -u postgres -- createdb consistent && runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d consistent < ${pg}`,
  );
  expect((await sh(db1.root, psql("consistent", "select sum(balance) from accounts"))).trim()).toBe("1000");
  const moved = Number(await sh(db1.root, psql("consistent", "select count(*) from moves")));
  expect(moved).toBeGreaterThan(0);
  const my = await dumpOnHost(ws, "shop", "shop-consistent.sql");
  await sh(db1.root, `sed 's/\\bshop\\b/shopcheck/g' ${my} | mysql`);
  const [sum, moves] = (
    await sh(
      db1.root,
      `mysql -N -e "select (select sum(balance) from shopcheck.accounts), (select count(*) from shopcheck.moves)"`,
    )
  )
    .trim()
    .split("\t");
  expect(sum).toBe("1000");
  expect(Number(moves)).toBeGreaterThan(0);
});

test("onto a fresh database server: roles first, then each database; grants, rows and files come back", async ({
  ws,
}) => {
  await sh(db1.root, psql("app", "create role appuser login; grant select on customers, orders to appuser"));
  await setUp(ws);
  const out = jsonResult<Outcome>(
    await runCli(["--json", "snapshot", "--host", "db1"], { ...ws.env, SHOP_DB_PASSWORD: shopPassword }),
  );
  const db2 = await startDbHost(`lb-dbfresh-${randomBytes(3).toString("hex")}`);
  try {
    const [policy] = (await loadPolicies(await ws.config(), ws.policiesDir, ws.root)).policies;
    const [pgSource, mySource, liteSource] = policy?.databases ?? [];
    if (!pgSource || !mySource || !liteSource) throw new Error("policy databases missing");
    /** A dump from the catalog of db1, restored here by snapshot id and put on the fresh host. */
    const onFresh = async (file: string): Promise<string> => {
      const dump = out.dumps.find((d) => d.file === file);
      const dir = `${ws.root}/fresh-${file}`;
      const r = await runCli(
        ["restore", "--host", "db1", "--snapshot", dump?.snapshotId ?? "", "--target", dir],
        ws.env,
      );
      expect(r.exitCode, r.stderr).toBe(0);
      await db2.root.writeFile(`/root/${file}`, await readFile(`${dir}/${file}`), 0o600);
      return `/root/${file}`;
    };
    // Without its role first, the app database's GRANT fails: the order matters.
    const appDump = await onFresh("postgres-app.sql");
    await expect(
      loadDatabase({ transport: db2.root, source: pgSource }, "app", appDump),
    ).rejects.toMatchObject({
      code: "LOAD_FAILED",
      message: expect.stringContaining('role "appuser" does not exist'),
    });
    await sh(db2.root, "runuser -u postgres -- dropdb app");
    await loadRoles({ transport: db2.root, source: pgSource }, await onFresh("postgres.roles.sql"));
    await loadDatabase({ transport: db2.root, source: pgSource }, "app", appDump);
    expect((await sh(db2.root, psql("app", "select count(*) from orders"))).trim()).toBe("1000");
    expect(
      (await sh(db2.root, psql("app", "select has_table_privilege('appuser', 'orders', 'select')"))).trim(),
    ).toBe("t");
    await loadDatabase({ transport: db2.root, source: mySource }, "shop", await onFresh("mysql-shop.sql"));
    expect((await sh(db2.root, `mysql -N -e "select count(*) from shop.items"`)).trim()).toBe("3");
    await loadDatabase(
      { transport: db2.root, source: liteSource },
      "/srv/app/app.db",
      await onFresh("sqlite-srv_app_app.db.sql"),
    );
    expect((await sh(db2.root, `sqlite3 /srv/app/app.db "select count(*) from notes"`)).trim()).toBe("2");
    // A database file that exists is never overwritten by a load.
    await expect(
      loadDatabase(
        { transport: db2.root, source: liteSource },
        "/srv/app/app.db",
        "/root/sqlite-srv_app_app.db.sql",
      ),
    ).rejects.toMatchObject({ code: "LOAD_FAILED", message: expect.stringContaining("already exists") });
  } finally {
    await db2.remove();
  }
});

test("names a server lists are checked like a policy's: one that reads as a connection or an option is not dumped", async ({
  ws,
}) => {
  await ws.useFleetS3(s3);
  await ws.writePolicy(
    "db1.yaml",
    `host: db1\ntransport: { container: ${db1.name} }\nirreplaceable:\n  - postgres: { database: all, runAs: postgres }\n  - mysql: { database: all }\n`,
  );
  // Whoever may create a database picks its name: pg_dump read this one as where to connect (and send the password).
  const pgName = "host=127.0.0.1 port=55432 dbname=x";
  await sh(db1.root, `runuser -u postgres -- createdb '${pgName}'`);
  // And mysqldump read this one as an option: its "dump" was its help text.
  await sh(db1.root, "mysql -e 'create database `--help`'");
  try {
    const r = await runCli(["--json", "snapshot", "--host", "db1"], ws.env);
    expect(r.exitCode, r.stderr).toBe(1);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("DUMP_FAILED");
    expect(error.message).toContain(`a database named ${JSON.stringify(pgName)}, which is not a plain name`);
    expect(error.message).toContain('a database named "--help", which is not a plain name');
    const paths = jsonResult<Array<{ paths: string[] }>>(
      await runCli(["--json", "snapshots", "--host", "db1"], ws.env),
    ).map((s) => s.paths.join(","));
    expect(paths).toEqual(expect.arrayContaining(["/postgres-app.sql", "/mysql-shop.sql"]));
    expect(paths.filter((p) => p.includes("help") || p.includes("55432"))).toEqual([]);
  } finally {
    await sh(db1.root, `runuser -u postgres -- dropdb '${pgName}'`);
    await sh(db1.root, "mysql -e 'drop database `--help`'");
  }
});
