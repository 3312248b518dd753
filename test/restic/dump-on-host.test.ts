// Database dumps streamed by restic on a database host (container transport) into S3: real PostgreSQL and
// MariaDB, no temporary file, and nothing saved when the server dies midway through a dump.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, inject, vi } from "vitest";
import type { ResticRepository } from "../../src/restic/engine.js";
import { type HostRestic, resticOnHost } from "../../src/restic/on-host.js";
import { openRepository } from "../../src/storage/repository.js";
import { type ContainerHost, psql, sh, startDbHost } from "../helpers/fleet.js";
import { s3Env } from "../helpers/s3/start.js";
import { test, type Workspace } from "../helpers/workspace.js";

// Whole database hosts start and restic runs inside them: minutes, not the default 60 s, on a busy machine.
vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
let db1: ContainerHost;

beforeAll(async () => {
  db1 = await startDbHost(`lb-db-${randomBytes(3).toString("hex")}`);
  await sh(db1.root, "runuser -u postgres -- createdb app");
  await sh(
    db1.root,
    psql(
      "app",
      "create table customers(id int primary key, name text); create table orders(id serial primary key, customer int references customers(id)); insert into customers select i, 'c' || i from generate_series(1, 500) i; insert into orders(customer) select 1 + i % 500 from generate_series(1, 2000) i;",
    ),
  );
  await sh(
    db1.root,
    `mysql -e "create database shop; create table shop.items(id int primary key, label varchar(20)); insert into shop.items values (1,'one'),(2,'two'),(3,'three');"`,
  );
}, 300_000);
afterAll(async () => {
  await db1?.remove();
});

async function openOnHost(ws: Workspace): Promise<{ repo: ResticRepository; onHost: HostRestic }> {
  await ws.useFleetS3(s3);
  await ws.writePolicy(
    "db1.yaml",
    `host: db1\ntransport: { container: ${db1.name} }\nirreplaceable: [/srv]\n`,
  );
  // In this process the SDK's credential chain reads process.env.
  Object.assign(process.env, s3Env(s3));
  const onHost = await resticOnHost(db1.root, { install: true });
  const opened = await openRepository({
    config: await ws.config(),
    targetName: "offsite",
    host: "db1",
    create: true,
    onHost,
  });
  return { repo: opened.repo, onHost };
}

/** Restores a snapshot on the host itself (the repository's restic runs there); returns the directory. */
async function restoreOnHost(repo: ResticRepository, snapshotId: string, file: string): Promise<string> {
  const dir = `/tmp/restored-${snapshotId.slice(0, 8)}`;
  await repo.restore({ snapshot: snapshotId, target: dir });
  await sh(db1.root, `test -s ${dir}/${file}`);
  return dir;
}

test("PostgreSQL and MariaDB dumps stream from the host into S3 and load back into empty databases", async ({
  ws,
}) => {
  const { repo, onHost } = await openOnHost(ws);
  try {
    const pg = await repo.backupFromCommand({
      command: ["runuser", "-u", "postgres", "--", "pg_dump", "--dbname=app"],
      filename: "postgres-app.sql",
      host: "db1",
      tags: ["lifeboat", "host:db1"],
    });
    const my = await repo.backupFromCommand({
      command: ["mysqldump", "--single-transaction", "--databases", "shop"],
      filename: "mysql-shop.sql",
      host: "db1",
      tags: ["lifeboat", "host:db1"],
    });
    const pgDir = await restoreOnHost(repo, pg.snapshotId, "postgres-app.sql");
    const myDir = await restoreOnHost(repo, my.snapshotId, "mysql-shop.sql");
    // Into empty databases: PostgreSQL into a new one, MariaDB after dropping the original.
    await sh(
      db1.root,
      `runuser -u postgres -- createdb restored && runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d restored < ${pgDir}/postgres-app.sql`,
    );
    expect(
      (
        await sh(
          db1.root,
          psql("restored", "select count(*) from orders join customers on customers.id = orders.customer"),
        )
      ).trim(),
    ).toBe("2000");
    await sh(db1.root, `mysql -e "drop database shop" && mysql < ${myDir}/mysql-shop.sql`);
    expect(
      (await sh(db1.root, `mysql -N -e "select group_concat(label order by id) from shop.items"`)).trim(),
    ).toBe("one,two,three");
  } finally {
    await onHost.cleanup();
  }
});

test("a server that dies midway through a dump leaves no snapshot and a clear error; the next dump succeeds", async ({
  ws,
}) => {
  await sh(
    db1.root,
    psql("app", "create table big as select i, md5(i::text) as h from generate_series(1, 2000000) i"),
  );
  const { repo, onHost } = await openOnHost(ws);
  try {
    // A session that holds the table: pg_dump connects, starts, and then waits on it, so the server is
    // stopped while the dump is under way, whatever this machine's speed.
    const holder = db1.root.run([
      "runuser",
      "-u",
      "postgres",
      "--",
      "psql",
      "-d",
      "app",
      "-c",
      "begin; lock table big in access exclusive mode; select pg_sleep(600);",
    ]);
    holder.catch(() => {});
    const dump = repo.backupFromCommand({
      command: ["runuser", "-u", "postgres", "--", "pg_dump", "--dbname=app"],
      filename: "postgres-app.sql",
      host: "db1",
      tags: ["lifeboat"],
    });
    // Settle the promise at once: the dump may fail while we are still looking for it.
    const outcome = dump.then(
      () => new Error("the dump finished before the server was stopped"),
      (err: unknown) => err,
    );
    let waiting = false;
    for (let i = 0; i < 200 && !waiting; i++) {
      const active = await sh(
        db1.root,
        psql(
          "app",
          "select count(*) from pg_stat_activity where application_name = 'pg_dump' and wait_event_type = 'Lock'",
        ),
      );
      waiting = active.trim() !== "0";
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(waiting).toBe(true);
    await sh(db1.root, "pg_ctlcluster 15 main stop -m immediate");
    expect(await outcome).toMatchObject({
      code: "DUMP_FAILED",
      message: expect.stringMatching(
        // pg_dump's own last words, whichever they are (the connection lost, the server terminating it).
        /^runuser failed \(exit status 1\); no snapshot of postgres-app.sql was saved: \S/,
      ),
    });
    expect(await repo.snapshots({ host: "db1" })).toEqual([]);
    await holder;

    await sh(db1.root, "pg_ctlcluster 15 main start");
    const again = await repo.backupFromCommand({
      command: ["runuser", "-u", "postgres", "--", "pg_dump", "--dbname=app"],
      filename: "postgres-app.sql",
      host: "db1",
      tags: ["lifeboat"],
    });
    expect((await repo.snapshots({ host: "db1" })).map((s) => s.id)).toEqual([again.snapshotId]);
  } finally {
    await onHost.cleanup();
    await sh(db1.root, psql("app", "drop table if exists big")).catch(() => {});
  }
});
