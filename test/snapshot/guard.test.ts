// What ransomware does before it encrypts: empty the data, or encrypt it in place, and let the nightly snapshot
// save that. The guard holds such a snapshot: nothing is pruned (retention keeps only 1 here), an alert names
// the numbers, status says SUSPICIOUS, and retention resumes once a person accepts it.
import { randomBytes } from "node:crypto";
import { readdir, rm, writeFile } from "node:fs/promises";
import { execa } from "execa";
import { afterAll, beforeAll, expect } from "vitest";
import { openRepository } from "../../src/storage/repository.js";
import { runCli } from "../helpers/cli.js";
import { smtpConfig, startSmtp, type TestSmtp } from "../helpers/smtp.js";
import { test, type Workspace } from "../helpers/workspace.js";

let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startSmtp();
});
afterAll(() => smtp.stop());

const FILES = 40;

async function setUp(ws: Workspace): Promise<NodeJS.ProcessEnv> {
  await ws.writeConfig(
    `targets:\n  primary: { type: local }\ndefaults:\n  repository: primary\n  retention: { last: 1 }\n${smtpConfig(smtp)}`,
  );
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < FILES; i++) files[`srv/app/f${i}.bin`] = randomBytes(4096);
  await ws.writeData(files);
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [${ws.data("srv/app")}]\n`);
  const env = { ...ws.env, SMTP_USER: smtp.user, SMTP_PASSWORD: smtp.password };
  const first = await runCli(["snapshot", "--host", "web1"], env);
  expect(first.exitCode, first.stderr).toBe(0);
  return env;
}

async function snapshotCount(ws: Workspace): Promise<number> {
  const { repo } = await openRepository({ config: await ws.config(), targetName: "primary", host: "web1" });
  return (await repo.snapshots({ host: "web1" })).length;
}

async function expectHeld(env: NodeJS.ProcessEnv, reason: RegExp): Promise<string> {
  const r = await runCli(["snapshot", "--host", "web1"], env);
  expect(r.exitCode, r.stderr).toBe(9);
  expect(r.stdout).toMatch(reason);
  expect(r.stdout).toContain("retention held: every earlier snapshot is kept");
  const id = /lifeboat accept --host web1 --snapshot ([0-9a-f]{8})/.exec(r.stdout)?.[1] ?? "";
  expect(id).toMatch(/^[0-9a-f]{8}$/);
  const mail = await smtp.waitFor((m) => m.subject?.includes(`snapshot ${id} is suspicious`) ?? false);
  expect(mail.subject).toBe(`[lifeboat] ALERT web1: snapshot ${id} is suspicious (SNAPSHOT_SUSPICIOUS)`);
  expect(mail.text).toMatch(reason);
  const status = await runCli(["status"], env);
  expect(status.exitCode).toBe(9);
  expect(status.stdout).toContain(`SUSPICIOUS ${id}`);
  return id;
}

test("an emptied directory is held: nothing pruned, an alert, status SUSPICIOUS until accepted", async ({
  ws,
}) => {
  const env = await setUp(ws);
  for (const f of await readdir(ws.data("srv/app"))) await rm(ws.data("srv/app", f));
  await expectHeld(env, /files fell from 41 to 1 \(-97\.6%\)/);
  // Without the guard, retention { last: 1 } would have left only the empty snapshot.
  expect(await snapshotCount(ws)).toBe(2);

  // The next night is still empty: compared with the last good snapshot, not the empty one, so held again.
  const second = await expectHeld(env, /files fell from 41 to 1/);
  expect(await snapshotCount(ws)).toBe(3);
  const forget = await runCli(["forget", "--host", "web1"], env);
  expect(forget.exitCode).toBe(9);
  expect(forget.stderr).toContain("[SNAPSHOT_SUSPICIOUS]");

  // A person looks and says it was intended: retention resumes, and status is ok again.
  const accept = await runCli(["accept", "--host", "web1", "--snapshot", second], env);
  expect(accept.exitCode, accept.stderr).toBe(0);
  expect((await runCli(["status"], env)).exitCode).toBe(0);
  const after = await runCli(["snapshot", "--host", "web1"], env);
  expect(after.exitCode, after.stderr).toBe(0);
  expect(after.stdout).toMatch(/retention: kept 1, removed 3/);
  expect(await snapshotCount(ws)).toBe(1);
});

test("files encrypted in place (openssl) are held the same way", async ({ ws }) => {
  const env = await setUp(ws);
  await writeFile(ws.data("key.txt"), "ransom\n");
  for (let i = 0; i < FILES * 0.7; i++) {
    const f = ws.data(`srv/app/f${i}.bin`);
    await execa("openssl", [
      "enc",
      "-aes-256-cbc",
      "-pbkdf2",
      "-pass",
      "pass:x",
      "-in",
      f,
      "-out",
      `${f}.enc`,
    ]);
    await execa("mv", [`${f}.enc`, f]);
  }
  // 28 encrypted, and each root's sentinel, which every snapshot rewrites.
  await expectHeld(env, /29 of 41 files changed content \(70\.7%\): what encrypting them looks like/);
  expect(await snapshotCount(ws)).toBe(2);
});
