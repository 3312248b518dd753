import { chmod, rm, writeFile } from "node:fs/promises";
import { expect } from "vitest";
import { runCli, startCli } from "../helpers/cli.js";
import { fakeRestic } from "../helpers/fake-restic.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

test("a wrong password gives WRONG_PASSWORD, exit 12, and says where to look", async ({ ws }) => {
  await writeWeb1(ws);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  const keyFile = `${ws.home}/keys/primary.key`;
  await writeFile(keyFile, "not-the-password\n", { mode: 0o600 });
  for (const args of [
    ["snapshots", "--host", "web1"],
    ["snapshot", "--host", "web1"],
  ]) {
    const r = await runCli(args, ws.env);
    expect(r.exitCode).toBe(12);
    expect(r.stderr).toContain("error [WRONG_PASSWORD]: restic ");
    expect(r.stderr).toContain("recovery kit");
  }
  const json = await runCli(["--json", "snapshots", "--host", "web1"], ws.env);
  expect(JSON.parse(json.stdout)).toMatchObject({
    ok: false,
    error: { code: "WRONG_PASSWORD", exitCode: 12 },
  });
});

test("a locked repository gives REPOSITORY_LOCKED, exit 11, and names the unlock command", async ({ ws }) => {
  await writeWeb1(ws);
  const fake = await fakeRestic({
    exitCode: 11,
    message:
      "Fatal: unable to create lock in backend: repository is already locked by PID 4242 on web1 by root",
  });
  const r = await runCli(["snapshot", "--host", "web1"], { ...ws.env, LIFEBOAT_RESTIC: fake.binary });
  expect(r.exitCode).toBe(11);
  expect(r.stderr).toContain("error [REPOSITORY_LOCKED]: restic init: unable to create lock in backend");
  expect(r.stderr).toContain("lifeboat unlock --host HOST");
});

test("restic exiting with a code it does not document is a plain failure, exit 1", async ({ ws }) => {
  await writeWeb1(ws);
  const fake = await fakeRestic({ exitCode: 42, message: "Fatal: something new" });
  const r = await runCli(["snapshot", "--host", "web1"], { ...ws.env, LIFEBOAT_RESTIC: fake.binary });
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toContain("error [RESTIC_FAILED]: restic init failed: something new");
});

test("a restic older than 0.17 is refused with an install hint (exit 5)", async ({ ws }) => {
  await writeWeb1(ws);
  const fake = await fakeRestic({ version: "0.14.0", exitCode: 0, message: "" });
  const r = await runCli(["snapshot", "--host", "web1"], { ...ws.env, LIFEBOAT_RESTIC: fake.binary });
  expect(r.exitCode).toBe(5);
  expect(r.stderr).toContain("restic 0.14.0 is too old");
  expect(r.stderr).toContain("scripts/setup.sh");
});

test("a key file others can read is refused (exit 7); a lost key file is never silently replaced", async ({
  ws,
}) => {
  await writeWeb1(ws);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  const keyFile = `${ws.home}/keys/primary.key`;
  await chmod(keyFile, 0o644);
  const insecure = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(insecure.exitCode).toBe(7);
  expect(insecure.stderr).toContain(`chmod 600 ${keyFile}`);

  await rm(keyFile);
  const lost = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(lost.exitCode).toBe(7);
  expect(lost.stderr).toContain(`the repository key file ${keyFile} does not exist`);
  expect(lost.stderr).toContain("recovery kit");
  await expect(import("node:fs/promises").then((fs) => fs.stat(keyFile))).rejects.toThrow();
});

test("a password from an environment variable works, and its absence is a clear error", async ({ ws }) => {
  await ws.writeConfig(`targets:\n  primary: { type: local, passwordEnv: WEB_REPO_PASSWORD }\n`);
  await writeWeb1(ws);
  const missing = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(missing.exitCode).toBe(7);
  expect(missing.stderr).toContain("WEB_REPO_PASSWORD is not set");
  const ok = await runCli(["snapshot", "--host", "web1"], {
    ...ws.env,
    WEB_REPO_PASSWORD: "correct horse battery",
  });
  expect(ok.exitCode, ok.stderr).toBe(0);
  expect(ok.stdout).not.toContain("NEW REPOSITORY KEY");
  const wrong = await runCli(["snapshots"], { ...ws.env, WEB_REPO_PASSWORD: "wrong horse battery" });
  expect(wrong.exitCode).toBe(12);
});

test("Ctrl-C during a snapshot stops restic and exits 130", async ({ ws }) => {
  const { randomBytes } = await import("node:crypto");
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) big[`srv/app/uploads/bulk/${i}.bin`] = randomBytes(4 * 1024 * 1024);
  await writeWeb1(ws, big);
  const child = startCli(["snapshot", "--host", "web1"], { ...ws.env, LIFEBOAT_LOG_LEVEL: "info" });
  // Wait until restic is really running, then interrupt lifeboat the way a terminal would.
  let seen = false;
  child.stderr?.on("data", (d: Buffer) => {
    if (!seen && d.toString().includes("snapshot started")) {
      seen = true;
      setTimeout(() => child.kill("SIGINT"), 200);
    }
  });
  const r = await child;
  expect(seen).toBe(true);
  expect(r.exitCode).toBe(130);
  expect(String(r.stderr)).toContain("INTERRUPTED");
});

test("after an interrupted first snapshot, the run that creates the repository still shows the key", async ({
  ws,
}) => {
  await writeWeb1(ws);
  const hanging = await fakeRestic({ exitCode: 1, message: "unused", sleepSeconds: 30 });
  const keyFile = `${ws.home}/keys/primary.key`;
  const child = startCli(["snapshot", "--host", "web1"], { ...ws.env, LIFEBOAT_RESTIC: hanging.binary });
  const { existsSync } = await import("node:fs");
  while (!existsSync(keyFile)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  child.kill("SIGINT");
  const interrupted = await child;
  expect(interrupted.exitCode).toBe(130);
  expect(String(interrupted.stdout)).not.toContain("NEW REPOSITORY KEY");

  const real = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(real.exitCode, real.stderr).toBe(0);
  expect(real.stdout).toContain(`NEW REPOSITORY KEY: ${keyFile}`);
});

test("files restic could not read give SNAPSHOT_INCOMPLETE, exit 3, naming them and the saved snapshot", async ({
  ws,
}) => {
  await writeWeb1(ws);
  const unreadable = ws.data("srv/app/uploads/locked.bin");
  const summary = {
    message_type: "summary",
    files_new: 3,
    files_changed: 0,
    files_unmodified: 0,
    dirs_new: 2,
    dirs_changed: 0,
    dirs_unmodified: 0,
    data_added: 1000,
    total_files_processed: 3,
    total_bytes_processed: 1000,
    total_duration: 0.1,
    snapshot_id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  };
  const fake = await fakeRestic({
    exitCode: 1,
    message: "unused",
    commands: {
      init: { stdout: [{ message_type: "initialized", id: "abc", repository: "x" }], exitCode: 0 },
      // The new repository is opened once after init: its keys, the one it opened marked current.
      key: { stdout: [[{ id: "a".repeat(64), current: true, hostName: "h", userName: "u" }]], exitCode: 0 },
      backup: {
        stdout: [
          {
            message_type: "error",
            error: { message: "permission denied" },
            during: "archival",
            item: unreadable,
          },
          summary,
        ],
        exitCode: 3,
      },
    },
  });
  const r = await runCli(["snapshot", "--host", "web1"], { ...ws.env, LIFEBOAT_RESTIC: fake.binary });
  expect(r.exitCode).toBe(3);
  expect(r.stderr).toContain(
    "error [SNAPSHOT_INCOMPLETE]: snapshot 01234567 of web1 is incomplete: 1 item(s) could not be read",
  );
  expect(r.stderr).toContain(unreadable);
  const json = await runCli(["--json", "snapshot", "--host", "web1"], {
    ...ws.env,
    LIFEBOAT_RESTIC: fake.binary,
  });
  expect(JSON.parse(json.stdout)).toMatchObject({
    ok: false,
    error: {
      code: "SNAPSHOT_INCOMPLETE",
      exitCode: 3,
      details: { unread: [unreadable], outcome: { snapshotId: summary.snapshot_id } },
    },
  });
});

test("a restic killed mid-backup leaves a stale lock that `lifeboat unlock` removes", async ({ ws }) => {
  const { randomBytes } = await import("node:crypto");
  const { readdir } = await import("node:fs/promises");
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) big[`srv/app/uploads/bulk/${i}.bin`] = randomBytes(4 * 1024 * 1024);
  await writeWeb1(ws, big);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  await writeWeb1(ws, big); // new content: the next backup takes a while
  const locks = `${ws.home}/repositories/primary/web1/locks`;
  const child = startCli(["snapshot", "--host", "web1"], ws.env);
  while ((await readdir(locks)).length === 0) await new Promise((r) => setTimeout(r, 10));
  // A crash, not a clean stop: SIGKILL to restic itself leaves its lock behind.
  const { execa } = await import("execa");
  await execa("pkill", ["-KILL", "-f", `restic backup.*${ws.data("srv/app/uploads")}`], { reject: false });
  await child;
  expect((await readdir(locks)).length).toBeGreaterThan(0);

  const r = await runCli(["unlock", "--host", "web1"], ws.env);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toContain("removed stale locks");
  expect(await readdir(locks)).toEqual([]);
});

test("on a terminal, snapshot shows a progress bar and pretty logs", async ({ ws }) => {
  const { randomBytes } = await import("node:crypto");
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 60; i++) big[`srv/app/uploads/bulk/${i}.bin`] = randomBytes(4 * 1024 * 1024);
  await writeWeb1(ws, big);
  const { execa } = await import("execa");
  const bin = new URL("../../bin/lifeboat.js", import.meta.url).pathname;
  // util-linux's script(1) gives the CLI a pseudo-terminal, as a person's shell would.
  const r = await execa("script", ["-qfec", `${process.execPath} ${bin} snapshot --host web1`, "/dev/null"], {
    env: ws.env,
    reject: false,
  });
  expect(r.exitCode, r.stdout).toBe(0);
  expect(r.stdout).toMatch(/snapshot web1 \[[^\]]*\] \d+% \| \d+ files \| [\d.]+ \w*B/);
  expect(r.stdout).toContain("snapshot started");
  expect(r.stdout).not.toContain('{"level"');
  expect(r.stdout).toContain("saved to");
});

test("a lock left by a killed restic is cleared by the next run; a live process's lock is not", async ({
  ws,
}) => {
  const { randomBytes } = await import("node:crypto");
  const { readdir } = await import("node:fs/promises");
  const { execa } = await import("execa");
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 40; i++) big[`srv/app/uploads/bulk/${i}.bin`] = randomBytes(4 * 1024 * 1024);
  await writeWeb1(ws, big);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  const repo = `${ws.home}/repositories/primary/web1`;
  const locks = `${repo}/locks`;

  // A crash: restic killed with SIGKILL mid-backup leaves its lock.
  await writeWeb1(ws, big);
  const crashed = startCli(["snapshot", "--host", "web1"], ws.env);
  while ((await readdir(locks)).length === 0) await new Promise((r) => setTimeout(r, 10));
  await execa("pkill", ["-KILL", "-f", `restic backup.*${ws.data("srv/app/uploads")}`], { reject: false });
  await crashed;
  expect((await readdir(locks)).length).toBe(1);
  // The next run's prune needs an exclusive lock: the stale one is cleared and the run succeeds.
  const next = await runCli(["forget", "--host", "web1"], ws.env);
  expect(next.exitCode, next.stderr).toBe(0);
  expect(next.stderr).toContain("clearing stale locks");
  expect(await readdir(locks)).toEqual([]);

  // A live process's lock is respected: a backup reading stdin holds its lock until stdin closes.
  const key = `${ws.home}/keys/primary.key`;
  const live = execa("restic", ["backup", "-q", "--stdin", "--stdin-filename", "live.txt"], {
    env: { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: key },
    stdin: "pipe",
  });
  while ((await readdir(locks)).length === 0) await new Promise((r) => setTimeout(r, 10));
  const blocked = await runCli(["check", "--host", "web1"], ws.env);
  expect(blocked.exitCode).toBe(11);
  expect(blocked.stdout).toContain("REPOSITORY_LOCKED");
  expect((await readdir(locks)).length).toBe(1);
  live.stdin?.end("done\n");
  expect((await live).exitCode).toBe(0);
});
