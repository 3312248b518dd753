// The offsite copy: every snapshot of a host whose target has `replicate: { to: offsite }` is copied there by the
// controller. Killing the offsite server mid-copy loses nothing and the next copy completes; status shows the
// copy's newest snapshot; a drill restores from the copy alone and passes.
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { openRepository } from "../../src/storage/repository.js";
import { runCli, startCli } from "../helpers/cli.js";
import { type ContainerHost, DB_IMAGE, RUN_OPTIONS, sh, startContainerHost } from "../helpers/fleet.js";
import { type RunningS3Server, s3Env, startS3Server } from "../helpers/s3/start.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 300_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
let ws: Workspace;
let production: ContainerHost;
let offsite: RunningS3Server;

const config = (off: RunningS3Server) => `targets:
  primary:
    type: s3
    endpoint: ${s3.fleetEndpoint}
    bucket: ${s3.bucket}
    prefix: rep-${tag}
    pathStyle: true
    caFile: ${s3.caFile}
    replicate: { to: offsite }
  offsite:
    type: s3
    endpoint: ${off.fleetEndpoint}
    bucket: ${off.bucket}
    prefix: copy-${tag}
    pathStyle: true
    outageTimeout: 5s
    caFile: ${off.caFile}
defaults:
  repository: primary
`;

beforeAll(async () => {
  ws = await createWorkspace();
  // restic copy has one set of storage credentials for both repositories: the same keys on both servers.
  offsite = await startS3Server({
    address: "0.0.0.0",
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  await ws.writeConfig(config(offsite));
  ws.s3 = s3;
  Object.assign(process.env, s3Env(s3));
  production = await startContainerHost(`lbr-prod-${tag}`);
  await sh(production.root, "mkdir -p /srv/app/uploads && echo precious > /srv/app/uploads/a.txt");
  await ws.writePolicy(
    "app.yaml",
    `host: app\ntransport: { container: ${production.name} }\nirreplaceable: [/srv/app/uploads]\n`,
  );
  await (await import("node:fs/promises")).mkdir(path.join(ws.root, "runbooks"), { recursive: true });
  await writeFile(
    path.join(ws.root, "runbooks", "app.yaml"),
    `host: app\nprovider:\n  container:\n    image: localhost/${DB_IMAGE}\n    runOptions: ${JSON.stringify(RUN_OPTIONS)}\nsteps:\n  - restore\nchecks:\n  - command: "grep -q precious /srv/app/uploads/a.txt"\n`,
  );
}, 300_000);

afterAll(async () => {
  await production?.remove();
  await offsite?.stop().catch(() => {});
  await (await import("node:fs/promises")).rm(ws.root, { recursive: true, force: true });
});

async function copies(): Promise<Array<{ id: string; time: string }>> {
  const { repo } = await openRepository({ config: await ws.config(), targetName: "offsite", host: "app" });
  return repo.snapshots({ host: "app" });
}

/** Resolves once a `restic copy` of this workspace runs on this machine. */
async function copyStarted(): Promise<void> {
  for (;;) {
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmd.startsWith("restic\0copy") || cmd.includes("/restic\0copy")) {
        const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
        if (environ.includes(`copy-${tag}`)) return;
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("each snapshot is copied offsite; a copy killed midway loses nothing; a drill from the copy passes", async () => {
  const first = await runCli(["snapshot", "--host", "app"], ws.env);
  expect(first.exitCode, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/copied to offsite: 1 snapshot\(s\) of app there/);
  expect(await copies()).toHaveLength(1);

  // New data, big enough that the copy takes a moment; the offsite server dies while it runs.
  await production.root.writeFile("/srv/app/uploads/big.bin", randomBytes(60 * 1024 * 1024));
  const run = startCli(["snapshot", "--host", "app"], ws.env);
  await copyStarted();
  offsite.kill();
  const second = await run;
  // The snapshot is saved here; the copy failed and says the next one catches up.
  expect(second.exitCode, String(second.stderr)).toBe(8);
  expect(String(second.stdout)).toMatch(/snapshot \w{8} of app saved/);
  expect(String(second.stdout)).toContain("copy FAILED [STORAGE_UNREACHABLE]");
  const status = await runCli(["status"], ws.env);
  expect(status.stdout).toContain("the last copy FAILED");

  offsite = await startS3Server({
    address: "0.0.0.0",
    dir: offsite.dir,
    port: offsite.port,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  const again = await runCli(["replicate", "--host", "app"], ws.env);
  expect(again.exitCode, again.stderr).toBe(0);
  expect(again.stdout).toMatch(/app: 2 snapshot\(s\) in offsite/);
  const { repo } = await openRepository({ config: await ws.config(), targetName: "offsite", host: "app" });
  await repo.check(); // throws on any damage
  const ok = await runCli(["status"], ws.env);
  expect(ok.stdout).toMatch(/app: copy in offsite: newest snapshot \d{4}-/);
  expect(ok.stdout).not.toContain("FAILED");

  // The copy alone is enough to rebuild the host: the drill machine restores from offsite.
  const drill = await runCli(["drill", "--host", "app", "--from", "offsite"], ws.env);
  expect(drill.exitCode, drill.stderr).toBe(0);
  expect(drill.stderr).toContain("data:     from target offsite");
  const wrong = await runCli(["drill", "--host", "app", "--from", "nowhere"], ws.env);
  expect(wrong.exitCode).toBe(2);
  expect(wrong.stderr).toContain('app\'s snapshots are not copied to "nowhere"');
});
