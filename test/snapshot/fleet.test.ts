// Snapshots where the data lives: a container host and an SSH host (containers running sshd) of the test
// fleet, into the S3 test server, with restic running on the hosts themselves.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, vi } from "vitest";
import type { DoctorCheck } from "../../src/admin/doctor.js";
import { listRuns, readRecord } from "../../src/catalog/records.js";
import { openCatalog } from "../../src/catalog/store.js";
import { s3Location, s3ResticArgs } from "../../src/storage/s3-location.js";
import type { ContainerTransport } from "../../src/transport/container.js";
import { jsonResult, runCli, startCli } from "../helpers/cli.js";
import { type ContainerHost, type SshHost, sh, startContainerHost, startSshHost } from "../helpers/fleet.js";
import { argvsDuring, environsDuring } from "../helpers/proc.js";
import { test, type Workspace } from "../helpers/workspace.js";

// Whole database hosts start and restic runs inside them: minutes, not the default 60 s, on a busy machine.
vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
let web1: ContainerHost;
let db1: SshHost;
const extra: ContainerHost[] = [];

/** Irreplaceable files owned by `owner` under `dir`, and a rebuildable `.cache` inside it that only root may read. */
async function seed(t: ContainerTransport, dir: string, owner: string): Promise<void> {
  await sh(t, `mkdir -p ${dir}/img ${dir}/deep/x/y ${dir}/.cache`);
  await t.writeFile(`${dir}/a.txt`, "first upload\n");
  await t.writeFile(`${dir}/img/logo.bin`, randomBytes(300_000));
  await t.writeFile(`${dir}/deep/x/y/z.txt`, `nested ${tag}\n`);
  await t.writeFile(`${dir}/.cache/thumb.bin`, randomBytes(1000));
  await sh(t, `chown -R ${owner}: ${dir} && chown -R root:root ${dir}/.cache && chmod 000 ${dir}/.cache`);
}

const hashes = "find . -type f ! -path './.cache/*' -exec sha256sum {} + | sort -k2";

beforeAll(async () => {
  [web1, db1] = await Promise.all([
    startContainerHost(`lb-web1-${tag}`),
    startSshHost(`lb-db1-${tag}`, "deploy"),
  ]);
  await sh(web1.root, "useradd -m -s /bin/sh app");
  await seed(web1.root, "/srv/app/uploads", "app");
  await seed(db1.root, "/home/deploy/data", "deploy");
}, 300_000);

afterAll(async () => {
  await Promise.all([web1, db1, ...extra].map((h) => h?.remove()));
});

async function writeFleetPolicies(ws: Workspace): Promise<void> {
  await ws.writePolicy(
    "web1.yaml",
    `host: web1
transport: { container: { name: ${web1.name}, user: app } }
irreplaceable: [/srv/app/uploads]
rebuildable: [/srv/app/uploads/.cache]
`,
  );
  await ws.writePolicy(
    "db1.yaml",
    `host: db1
transport:
  ssh: { destination: "${db1.destination}", identityFile: ${db1.identityFile}, knownHostsFile: ${db1.knownHostsFile} }
irreplaceable: [/home/deploy/data]
rebuildable: [/home/deploy/data/.cache]
`,
  );
}

/** Restores the host's latest snapshot here and compares every file's hash with the host's own files. */
async function expectRestoredIdentical(ws: Workspace, host: string, t: ContainerTransport, dir: string) {
  const target = path.join(ws.root, `restored-${host}`);
  const r = await runCli(["restore", "--host", host, "--target", target], ws.env);
  expect(r.exitCode, r.stderr).toBe(0);
  const there = await sh(t, `cd ${dir} && ${hashes}`);
  const here = (await execa("sh", ["-c", `cd ${target}${dir} && ${hashes}`])).stdout;
  expect(here.trim()).toBe(there.trim());
  // Three files and the sentinel the snapshot wrote.
  expect(there.split("\n").filter(Boolean)).toHaveLength(4);
  // The rebuildable .cache was never read: not even its directory is in the snapshot.
  expect(existsSync(`${target}${dir}/.cache`)).toBe(false);
}

test("a container host's irreplaceable data, snapshotted there into S3, restores byte-identical; its unreadable rebuildable data is never read", async ({
  ws,
}) => {
  await ws.useFleetS3(s3);
  await writeFleetPolicies(ws);
  // The proof means something: the login user really cannot read the rebuildable files.
  const asApp = await web1.root.run(["su", "app", "-c", "cat /srv/app/uploads/.cache/thumb.bin"]);
  expect(asApp.exitCode).not.toBe(0);

  const out = jsonResult<{ transport: string; resticCopied: boolean; totalFiles: number }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );
  // Bookworm's restic is 0.14: Lifeboat brought its own for the run, and took it away again.
  expect(out).toMatchObject({ transport: `container ${web1.name}`, resticCopied: true, totalFiles: 4 });
  expect(await sh(web1.root, "ls /var/tmp /tmp")).not.toMatch(/lifeboat\./);
  await expectRestoredIdentical(ws, "web1", web1.root, "/srv/app/uploads");
});

test("an SSH host's irreplaceable data, snapshotted there into S3, restores byte-identical; its unreadable rebuildable data is never read", async ({
  ws,
}) => {
  await ws.useFleetS3(s3);
  await writeFleetPolicies(ws);
  const out = jsonResult<{ transport: string; resticCopied: boolean; totalFiles: number }>(
    await runCli(["--json", "snapshot", "--host", "db1"], ws.env),
  );
  expect(out).toMatchObject({ transport: `ssh ${db1.destination}`, resticCopied: true, totalFiles: 4 });
  expect(await sh(db1.root, "ls /var/tmp /tmp")).not.toMatch(/lifeboat\./);
  await expectRestoredIdentical(ws, "db1", db1.root, "/home/deploy/data");
});

/** Every file the S3 server stores under this workspace's prefix: the repositories and the catalog. */
async function storedFiles(ws: Workspace): Promise<string[]> {
  const root = path.join(s3.dir, "data", s3.bucket);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const prefix = `t-${path.basename(ws.root)}`;
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => f.includes(prefix));
}

test("secrets reach the hosts' restic in no argv on either side, and in no log or run record", async ({
  ws,
}) => {
  const password = `pw-${randomBytes(12).toString("hex")}`;
  await ws.useFleetS3(s3);
  await writeFleetPolicies(ws);
  await ws.writeConfig(
    (await readFile(ws.configFile, "utf8")).replace("caFile:", "passwordEnv: REPO_PW\n    caFile:"),
  );
  const env = { ...ws.env, REPO_PW: password };
  const run = startCli(["--log-level", "trace", "snapshot", "--all"], env);
  // The containers' processes are this machine's processes too: one sampling sees both sides.
  const argvs = await argvsDuring(run);
  const r = await run;
  expect(r.exitCode, String(r.stderr)).toBe(0);
  // The sampling saw restic at work on the hosts (the copied binary) and the ssh client here.
  expect(argvs.some((a) => /\/var\/tmp\/lifeboat\.\w+\/restic backup/.test(a))).toBe(true);
  expect(argvs.some((a) => a.startsWith("ssh ") && a.includes(db1.destination))).toBe(true);
  for (const secret of [password, s3.secretAccessKey]) {
    expect(argvs.filter((a) => a.includes(secret))).toEqual([]);
    expect(String(r.stdout)).not.toContain(secret);
    expect(String(r.stderr)).not.toContain(secret);
  }
  const files = await storedFiles(ws);
  const records = files.filter((f) => f.includes("_catalog"));
  expect(records.length).toBeGreaterThanOrEqual(4);
  for (const file of files) {
    const bytes = await readFile(file);
    expect(bytes.includes(password), file).toBe(false);
    expect(bytes.includes(s3.secretAccessKey), file).toBe(false);
  }
});

test("each host's restic gets its own key only: the target's key never reaches a host, and web1's opens no other repository", async ({
  ws,
}) => {
  const password = `pw-${randomBytes(12).toString("hex")}`;
  await ws.useFleetS3(s3);
  await writeFleetPolicies(ws);
  // web1 also has S3 credentials of its own (a key scoped by `kit --iam`); db1 gets the controller's.
  // (The test server checks no signature: another secret with the same key id is accepted.)
  const web1Secret = `web1-${randomBytes(12).toString("hex")}`;
  await ws.writePolicy(
    "web1.yaml",
    (await readFile(path.join(ws.policiesDir, "web1.yaml"), "utf8")) +
      "credentials: { accessKeyIdEnv: WEB1_AK, secretAccessKeyEnv: WEB1_SK }\n",
  );
  await ws.writeConfig(
    (await readFile(ws.configFile, "utf8")).replace("caFile:", "passwordEnv: REPO_PW\n    caFile:"),
  );
  const env = { ...ws.env, REPO_PW: password, WEB1_AK: s3.accessKeyId, WEB1_SK: web1Secret };
  const run = startCli(["snapshot", "--all"], env);
  // The hosts' processes are this machine's processes too: their environments can be read here.
  const environs = await environsDuring(run, /\/var\/tmp\/lifeboat\.\w+\/restic (backup|cat|key|snapshots)/);
  const r = await run;
  expect(r.exitCode, String(r.stderr)).toBe(0);
  const keyOf = async (host: string) =>
    (await readFile(path.join(ws.home, "keys", "hosts", `${host}.key`), "utf8")).trim();
  const [web1Key, db1Key] = [await keyOf("web1"), await keyOf("db1")];
  expect(environs.length).toBeGreaterThan(0);
  for (const vars of environs) expect(Object.values(vars).some((v) => v.includes(password))).toBe(false);
  // This test's restics only (other test files run at the same time), by their repositories. (An ssh session's
  // shell before its prelude has exported the variables has none.)
  const prefix = `/t-${path.basename(ws.root)}/`;
  const given = environs.filter((v) => v.RESTIC_REPOSITORY?.includes(prefix)).map((v) => v.RESTIC_PASSWORD);
  expect(new Set(given)).toEqual(new Set([web1Key, db1Key]));
  const mine = environs.filter((v) => v.RESTIC_REPOSITORY?.includes(prefix));
  const secretsOf = (key: string) =>
    new Set(mine.filter((v) => v.RESTIC_PASSWORD === key).map((v) => v.AWS_SECRET_ACCESS_KEY));
  expect(secretsOf(web1Key)).toEqual(new Set([web1Secret]));
  expect(secretsOf(db1Key)).toEqual(new Set([s3.secretAccessKey]));

  // What an attacker on web1 holds: its key and the storage credentials. db1's repository stays shut.
  const target = (await ws.config(env)).targets.get("offsite");
  if (target?.type !== "s3") throw new Error("no s3 target");
  const rawRestic = (host: string, key: string) =>
    execa("restic", ["cat", "config", ...s3ResticArgs(target)], {
      reject: false,
      env: {
        RESTIC_REPOSITORY: s3Location(target, host),
        RESTIC_PASSWORD: key,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      },
    });
  expect((await rawRestic("db1", web1Key)).exitCode).toBe(12);
  expect((await rawRestic("web1", db1Key)).exitCode).toBe(12);
  expect((await rawRestic("web1", web1Key)).exitCode).toBe(0);
  expect((await rawRestic("db1", password)).exitCode).toBe(0);
});

async function catalogRecord(ws: Workspace, host: string) {
  const target = (await ws.config()).targets.get("offsite");
  if (!target) throw new Error("no offsite target");
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  const catalog = openCatalog(target);
  const runs = await listRuns(catalog, host);
  const last = runs.at(-1);
  return last?.endKey ? readRecord(catalog, last.endKey) : undefined;
}

test("an unreachable SSH host, a stopped container and a host without restic fail with clear records; the others' snapshots are unaffected", async ({
  ws,
}) => {
  const [stopped, bare] = await Promise.all([
    startContainerHost(`lb-stopped-${tag}`),
    startContainerHost(`lb-bare-${tag}`),
  ]);
  extra.push(stopped, bare);
  await stopped.stop();
  await sh(bare.root, "mkdir -p /srv/data && echo x > /srv/data/x && rm -f /usr/bin/restic");
  await ws.useFleetS3(s3, "concurrency: 3\n");
  await writeFleetPolicies(ws);
  const address = await db1.address();
  await ws.writePolicy(
    "gone.yaml",
    `host: gone\ntransport:\n  ssh: { destination: "deploy@${address}", port: 2, identityFile: ${db1.identityFile}, knownHostsFile: ${db1.knownHostsFile} }\nirreplaceable: [/srv]\n`,
  );
  await ws.writePolicy(
    "stopped.yaml",
    `host: stopped\ntransport: { container: ${stopped.name} }\nirreplaceable: [/srv]\n`,
  );
  await ws.writePolicy(
    "bare.yaml",
    `host: bare\ntransport: { container: ${bare.name} }\ninstallRestic: false\nirreplaceable: [/srv/data]\n`,
  );

  const r = await runCli(["--json", "snapshot", "--all"], ws.env);
  expect(r.exitCode, r.stderr).toBe(1);
  type HostResult = { host: string; ok: boolean; error?: { code: string; message: string; hint?: string } };
  const { hosts } = (JSON.parse(r.stdout) as { result: { hosts: HostResult[] } }).result;
  const byHost = Object.fromEntries(hosts.map((h) => [h.host, h]));
  expect(byHost.web1?.ok).toBe(true);
  expect(byHost.db1?.ok).toBe(true);
  expect(byHost.gone?.error).toMatchObject({
    code: "HOST_UNREACHABLE",
    message: expect.stringMatching(/cannot reach gone over ssh .*Connection refused/),
  });
  expect(byHost.stopped?.error).toMatchObject({
    code: "HOST_UNREACHABLE",
    message: `cannot reach stopped: container ${stopped.name} is not running (podman)`,
  });
  expect(byHost.bare?.error).toMatchObject({
    code: "RESTIC_MISSING",
    message:
      "restic is not installed on bare, and its policy forbids copying Lifeboat's (installRestic: false)",
    hint: expect.stringContaining("remove installRestic: false"),
  });
  // Each failure is in the catalog as a failed run with the same clear message.
  for (const host of ["gone", "stopped", "bare"]) {
    const record = await catalogRecord(ws, host);
    expect(record, host).toMatchObject({
      kind: "snapshot",
      outcome: "failed",
      error: { code: byHost[host]?.error?.code, message: byHost[host]?.error?.message },
    });
  }
  expect(await catalogRecord(ws, "web1")).toMatchObject({ outcome: "succeeded" });
  expect(await catalogRecord(ws, "db1")).toMatchObject({ outcome: "succeeded" });

  // doctor names the same problems before the night's run does.
  const d = await runCli(["--json", "doctor"], ws.env);
  const checks = (JSON.parse(d.stdout) as { result: DoctorCheck[] }).result;
  const check = (host: string) => checks.find((c) => c.name === `host ${host}`);
  expect(check("web1")).toMatchObject({
    ok: true,
    detail: `reached over container ${web1.name}; restic 0.14.0 is too old there: each snapshot copies Lifeboat's own for the run`,
  });
  expect(check("db1")).toMatchObject({
    ok: true,
    detail: expect.stringContaining(`reached over ssh ${db1.destination}`),
  });
  expect(check("gone")).toMatchObject({ ok: false, code: "HOST_UNREACHABLE" });
  expect(check("stopped")).toMatchObject({ ok: false, code: "HOST_UNREACHABLE" });
  expect(check("bare")).toMatchObject({ ok: false, code: "RESTIC_MISSING" });
  expect(d.exitCode).not.toBe(0);
});

test("snapshot --all: a hung host holds one slot until its time limit; the other hosts finish meanwhile, and restic stops on the hung host", async ({
  ws,
}) => {
  const slow = await startContainerHost(`lb-slow-${tag}`);
  extra.push(slow);
  await sh(slow.root, "mkdir -p /srv/data && echo x > /srv/data/x");
  // A restic that says it is recent enough, then hangs in whatever it is asked to do.
  await slow.root.writeFile(
    "/usr/local/bin/restic",
    '#!/bin/sh\n[ "$1" = version ] && { echo "restic 0.18.0 compiled with go1.24 on linux/amd64"; exit 0; }\necho $$ > /tmp/hung.pid\nexec sleep 600\n',
    0o755,
  );
  await ws.useFleetS3(s3, "concurrency: 2\n");
  await writeFleetPolicies(ws);
  await ws.writePolicy(
    "slow.yaml",
    `host: slow\ntransport: { container: ${slow.name} }\nsnapshotTimeout: 25s\nirreplaceable: [/srv/data]\n`,
  );

  const r = await runCli(["--json", "snapshot", "--all"], ws.env);
  expect(r.exitCode, r.stderr).toBe(14);
  type HostResult = {
    host: string;
    ok: boolean;
    startedAt: string;
    finishedAt: string;
    error?: { code: string; message: string };
  };
  const { hosts } = (JSON.parse(r.stdout) as { result: { hosts: HostResult[] } }).result;
  const byHost = Object.fromEntries(hosts.map((h) => [h.host, h]));
  expect(byHost.slow?.error).toMatchObject({
    code: "COMMAND_TIMEOUT",
    message: "the snapshot of slow did not finish within 25s; restic was stopped",
  });
  // Both others ran while the hung host held its slot: neither waited for its time limit to start. (When they
  // finish depends on the machine's load; a limit of 25 s leaves them several times what they need here.)
  for (const host of ["web1", "db1"]) {
    expect(byHost[host]?.ok, host).toBe(true);
    expect(Date.parse(byHost[host]?.startedAt ?? "")).toBeLessThan(Date.parse(byHost.slow?.finishedAt ?? ""));
  }
  // Stopped on the host as well, not only the local podman client.
  const pid = (await sh(slow.root, "cat /tmp/hung.pid")).trim();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect((await slow.root.run(["kill", "-0", pid])).exitCode).not.toBe(0);
});
