// The secrets sweep: recognisable passwords for the repository, S3, SMTP and a database, set for real runs
// (snapshots of a file host and a database host, a drill mailed, status, report, mail). Every process's argv on
// this machine (the hosts are containers here, so theirs too), every log and output, every object stored under
// the run's prefix, every report and every mail is searched for them: none may appear.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { startCli } from "./helpers/cli.js";
import {
  type ContainerHost,
  containerRunbook,
  DB_IMAGE,
  sh,
  startContainerHost,
  startDbHost,
} from "./helpers/fleet.js";
import { argvsDuring } from "./helpers/proc.js";
import { s3Config } from "./helpers/s3/start.js";
import { smtpConfig, startSmtp, type TestSmtp } from "./helpers/smtp.js";
import { createWorkspace, type Workspace } from "./helpers/workspace.js";

vi.setConfig({ testTimeout: 300_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const repoPassword = `repo-pw-${randomBytes(10).toString("hex")}`;
const dbPassword = `db-pw-${randomBytes(10).toString("hex")}`;
let ws: Workspace;
let smtp: TestSmtp;
let app: ContainerHost;
let db: ContainerHost;
let env: NodeJS.ProcessEnv;
let prefix: string;

beforeAll(async () => {
  smtp = await startSmtp();
  ws = await createWorkspace();
  prefix = `sweep-${tag}`;
  ws.s3 = s3;
  await ws.writeConfig(
    s3Config(s3, prefix, "    passwordEnv: REPO_PW\n", s3.fleetEndpoint) + smtpConfig(smtp),
  );
  [app, db] = await Promise.all([
    startContainerHost(`lbsw-app-${tag}`, DB_IMAGE),
    startDbHost(`lbsw-db-${tag}`),
  ]);
  await sh(app.root, "mkdir -p /srv/data && echo precious > /srv/data/a.txt");
  await sh(
    db.root,
    `mysql -e "create database shop; create table shop.items(id int primary key); insert into shop.items values (1); create user backup@localhost identified by '${dbPassword}'; grant select, lock tables, show view, event, trigger on *.* to backup@localhost;"`,
  );
  await ws.writePolicy(
    "app.yaml",
    `host: app\ntransport: { container: ${app.name} }\nirreplaceable: [/srv/data]\n`,
  );
  await ws.writePolicy(
    "db.yaml",
    `host: db\ntransport: { container: ${db.name} }\nirreplaceable:\n  - mysql: { database: shop, user: backup, passwordEnv: SHOP_DB_PASSWORD }\n`,
  );
  await mkdir(path.join(ws.root, "runbooks"), { recursive: true });
  await writeFile(
    path.join(ws.root, "runbooks/app.yaml"),
    containerRunbook(
      "app",
      "steps:\n  - restore\nchecks:\n  - command: test -s /srv/data/a.txt\n    retries: 0\n",
    ),
  );
  env = {
    ...ws.env,
    REPO_PW: repoPassword,
    SHOP_DB_PASSWORD: dbPassword,
    SMTP_USER: smtp.user,
    SMTP_PASSWORD: smtp.password,
  };
}, 300_000);

afterAll(async () => {
  await Promise.all([app?.remove(), db?.remove()]);
  await smtp?.stop();
  if (ws) await rm(ws.root, { recursive: true, force: true });
});

/** Every file the S3 server stores under this test's prefix (repositories and catalog), as text. */
async function storedUnderPrefix(): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(s3.dir, "data", s3.bucket), {
    recursive: true,
    withFileTypes: true,
  })) {
    if (!e.isFile() || !e.parentPath.includes(prefix)) continue;
    out.push((await readFile(path.join(e.parentPath, e.name))).toString("latin1"));
  }
  return out;
}

test("no password or key appears in any argv, log, output, stored object, report or mail", async () => {
  const secrets = { repoPassword, dbPassword, s3: s3.secretAccessKey, smtp: smtp.password };
  const argvs: string[] = [];
  const outputs: string[] = [];
  const run = async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const child = startCli(["--log-level", "trace", ...args], { ...env, ...extra });
    argvs.push(...(await argvsDuring(child)));
    const r = await child;
    outputs.push(String(r.stdout), String(r.stderr));
    return r;
  };
  expect((await run(["snapshot", "--host", "app"])).exitCode).toBe(0);
  expect((await run(["snapshot", "--host", "db"])).exitCode).toBe(0);
  const drill = await run(["--json", "drill", "--host", "app"]);
  expect(drill.exitCode, String(drill.stderr)).toBe(0);
  await smtp.waitFor((m) => m.subject?.includes("drill app") ?? false);
  // A failing login and a wrong repository password: their errors must not echo either.
  await run(["mail", "test"], { SMTP_PASSWORD: `${smtp.password}-wrong` });
  expect((await run(["snapshots"], { REPO_PW: `${repoPassword}-wrong` })).exitCode).toBe(12);
  for (const args of [
    ["status"],
    ["--json", "status"],
    ["--json", "report", "--host", "app"],
    ["mail", "retry"],
  ])
    await run(args);

  // The sampling saw the work it is meant to watch.
  expect(argvs.some((a) => a.includes("restic") && a.includes("backup"))).toBe(true);
  expect(argvs.some((a) => a.includes("mysqldump"))).toBe(true);
  const mails = smtp.messages.map((m) =>
    [m.subject, m.text, m.html, ...m.attachments.map((a) => a.content.toString("utf8"))].join("\n"),
  );
  expect(mails.length).toBeGreaterThan(0);
  const stored = await storedUnderPrefix();
  expect(stored.some((s) => s.includes('"kind":"drill"'))).toBe(true);
  const places: Record<string, string[]> = { argvs, outputs, mails, stored };
  const found: string[] = [];
  for (const [where, texts] of Object.entries(places))
    for (const [name, secret] of Object.entries(secrets))
      if (texts.some((t) => t.includes(secret))) found.push(`${name} in ${where}`);
  expect(found).toEqual([]);
});
