// Staging: a changed runbook at another git ref built as an isolated copy of web1 (`stage up --ref`), its
// checks run against the copy, production untouched (its page, its configuration and its start time); `stage
// list` shows it, `stage down` leaves nothing behind; an expired stage is removed by the daemon.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import type { StageState } from "../../src/stage/stages.js";
import { ContainerTransport } from "../../src/transport/container.js";
import { jsonResult, runCli, startCli } from "../helpers/cli.js";
import { DB_IMAGE, RUN_OPTIONS } from "../helpers/fleet.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const prod = `lbs-web1-${tag}`;
let ws: Workspace;
let root: ContainerTransport;

const SITE = "server { listen 80; root /srv/app/www; }\n";
// The change to try: nginx answers /version.
const SITE_V2 =
  'server { listen 80; root /srv/app/www; location = /version { default_type text/plain; return 200 "v2\\n"; } }\n';

const runbook = (check: string) => `host: web1
provider:
  container:
    image: localhost/${DB_IMAGE}
    runOptions: ${JSON.stringify(RUN_OPTIONS)}
steps:
  - files:
      /etc/nginx/sites-enabled/default: files/site.conf
      /srv/app/www/index.html: files/index.html
  - restore
  - name: start nginx
    shell: nginx
checks:
  - http: { url: "http://{{address}}/", contains: "hello" }
${check}`;

const git = (...args: string[]) =>
  execa("git", ["-C", ws.root, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args]);
const podman = (...args: string[]) => execa("podman", args, { reject: false });
const startedAt = async (name: string) =>
  (await podman("inspect", "--format", "{{.State.StartedAt}}", name)).stdout;

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3, "daemon:\n  listen: 127.0.0.1:0\n  watchdogInterval: 1s\n");
  await mkdir(path.join(ws.root, "runbooks/files"), { recursive: true });
  await writeFile(path.join(ws.root, "runbooks/files/site.conf"), SITE);
  await writeFile(path.join(ws.root, "runbooks/files/index.html"), "<p>hello v1</p>\n");
  await writeFile(path.join(ws.root, "runbooks/web1.yaml"), runbook(""));
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\nschedule: "0 0 1 1 *"\ntransport: { container: ${prod} }\nirreplaceable: [/srv/app/uploads]\nrebuildable: [/srv/app/www, /etc/nginx]\n`,
  );
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "-m", "web1 v1");
  // The change to try: nginx's configuration and a check that wants it; on a branch, not in the working tree.
  await git("checkout", "-q", "-b", "v2");
  await writeFile(path.join(ws.root, "runbooks/files/site.conf"), SITE_V2);
  await writeFile(
    path.join(ws.root, "runbooks/web1.yaml"),
    runbook('  - http: { url: "http://{{address}}/version", contains: "v2" }\n'),
  );
  await git("commit", "-q", "-am", "web1 v2");
  await git("checkout", "-q", "main");
  // Production, built from v1.
  jsonResult(await runCli(["--json", "recover", "--host", "web1", "--no-data"], ws.env));
  root = new ContainerTransport(prod, prod, "podman");
  await root.run(["sh", "-c", "mkdir -p /srv/app/uploads && echo precious > /srv/app/uploads/a.txt"]);
  jsonResult(await runCli(["--json", "snapshot", "--host", "web1"], ws.env));
}, 300_000);

afterAll(async () => {
  // Stages a failed assertion left standing go too, through the product's own `stage down`.
  const standing = JSON.parse((await runCli(["--json", "stage", "list"], ws.env)).stdout)
    .result as StageState[];
  for (const stage of standing ?? []) await runCli(["stage", "down", stage.id], ws.env);
  await podman("rm", "-f", "--time", "0", prod);
  if (ws) await rm(ws.root, { recursive: true, force: true });
});

test("stage up --ref builds the change on its own copy and checks it; production is untouched; down removes it", async () => {
  const nginx = "/etc/nginx/sites-enabled/default";
  const before = { started: await startedAt(prod), config: (await root.readFile(nginx)).toString() };
  const report = jsonResult<RecoveryReport>(
    await runCli(["--json", "stage", "up", "--host", "web1", "--ref", "v2", "--with-data"], ws.env),
  );
  expect(report).toMatchObject({ mode: "stage", verdict: "passed", withData: true });
  expect(report.machine).toBe(`web1-stage-${report.runId}`);
  expect(report.checks).toMatchObject([
    { status: "passed" },
    { name: "http http://{{address}}/version", status: "passed" },
  ]);
  expect(report.address).not.toBe(await root.address());
  // The copy runs v2's configuration with the data; production still runs v1's and was never restarted.
  const copy = new ContainerTransport("web1", report.machine, "podman");
  expect((await copy.readFile(nginx)).toString()).toBe(SITE_V2);
  expect((await copy.readFile("/srv/app/uploads/a.txt")).toString()).toBe("precious\n");
  expect((await root.readFile(nginx)).toString()).toBe(before.config);
  expect(before.config).toBe(SITE);
  expect(await startedAt(prod)).toBe(before.started);
  expect(await readFile(path.join(ws.root, "runbooks/files/site.conf"), "utf8")).toBe(SITE);

  const listed = jsonResult<StageState[]>(await runCli(["--json", "stage", "list"], ws.env));
  expect(listed).toMatchObject([
    { id: report.runId, host: "web1", machine: report.machine, verdict: "passed" },
  ]);
  expect(listed[0]?.removed).toBeUndefined();
  // A stage speaks for the copy, not the host: the host's last run is still its snapshot's retention.
  const status = JSON.parse((await runCli(["--json", "status", "--host", "web1"], ws.env)).stdout).result;
  expect(status[0]?.lastRun).toMatchObject({ kind: "prune", outcome: "succeeded" });
  expect(listed[0]?.source).toMatch(/^v2 \([0-9a-f]{8}\)$/);
  expect(Date.parse(listed[0]?.expiresAt ?? "") - Date.parse(report.startedAt)).toBe(4 * 3600 * 1000);
  const table = await runCli(["stage", "list"], ws.env);
  expect(table.stdout).toMatch(new RegExp(`${report.runId} +web1 +${report.machine} .* 2/2 passed +v2 `));

  jsonResult(await runCli(["--json", "stage", "down", report.runId.slice(0, 6)], ws.env));
  expect((await podman("container", "exists", report.machine)).exitCode).not.toBe(0);
  expect((await podman("network", "exists", `lifeboat-${report.machine}`)).exitCode).not.toBe(0);
  expect(jsonResult<StageState[]>(await runCli(["--json", "stage", "list"], ws.env))).toEqual([]);
  expect(await startedAt(prod)).toBe(before.started);
});

/** Runs the daemon until its log says `line` (30 s at most), then stops it; returns its log. */
async function daemonUntil(line: string): Promise<string> {
  const daemon = startCli(["daemon"], ws.env, undefined, { forceKillAfterDelay: false });
  let stderr = "";
  daemon.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    for (let i = 0; i < 300 && !stderr.includes(line); i++) await new Promise((r) => setTimeout(r, 100));
  } finally {
    daemon.kill("SIGTERM");
    await daemon;
  }
  return stderr;
}

test("an expired stage is removed by the daemon", async () => {
  const report = jsonResult<RecoveryReport>(
    await runCli(["--json", "stage", "up", "--host", "web1", "--ttl", "1s"], ws.env),
  );
  expect((await podman("container", "exists", report.machine)).exitCode).toBe(0);
  expect(await daemonUntil("removed an expired stage")).toContain("removed an expired stage");
  expect((await podman("container", "exists", report.machine)).exitCode).not.toBe(0);
  expect((await podman("network", "exists", `lifeboat-${report.machine}`)).exitCode).not.toBe(0);
  const all = jsonResult<StageState[]>(await runCli(["--json", "stage", "list", "--all"], ws.env));
  expect(all.find((s) => s.id === report.runId)?.removed).toMatchObject({ reason: "expired" });
});

test("stage records in the bucket are data: a planted one removes nothing and runs nothing; a broken one is skipped", async () => {
  const marker = path.join(ws.root, "pwned");
  const past = new Date(Date.now() - 3_600_000).toISOString();
  const common = { host: "web1", source: "planted", createdAt: past, expiresAt: past, withData: false };
  const more = { verdict: "passed", checks: [] };
  // As an older Lifeboat wrote it, with how to remove it: a command, aimed at production's container.
  await ws.plantInCatalog(
    "stages/web1/aaaaaaaaaaaa.json",
    JSON.stringify({
      ...common,
      ...more,
      id: "aaaaaaaaaaaa",
      machine: prod,
      provider: {
        kind: "command",
        create: "true",
        destroy: `touch ${marker}`,
        user: "root",
        timeoutSeconds: 10,
      },
    }),
  );
  // Well formed, naming a container this controller did not make.
  const foreign = "web1-stage-bbbbbbbbbbbb";
  expect((await podman("create", "--name", foreign, `localhost/${DB_IMAGE}`, "sleep", "1")).exitCode).toBe(0);
  await ws.plantInCatalog(
    "stages/web1/bbbbbbbbbbbb.json",
    JSON.stringify({ ...common, ...more, id: "bbbbbbbbbbbb", machine: foreign, providerKind: "container" }),
  );
  await ws.plantInCatalog("stages/web1/cccccccccccc.json", '{"id": "cccc');
  try {
    const list = await runCli(["--json", "stage", "list", "--all"], ws.env);
    expect(jsonResult<StageState[]>(list).map((s) => s.id)).toContain("bbbbbbbbbbbb");
    expect(list.stderr).toMatch(
      /skipped a malformed catalog record stages\/web1\/cccccccccccc\.json: not JSON/,
    );
    expect(list.stderr).toMatch(/skipped a malformed catalog record stages\/web1\/aaaaaaaaaaaa\.json/);

    const stderr = await daemonUntil("could not remove an expired stage");
    expect(stderr).toContain("could not remove an expired stage");
    expect(stderr).toContain(`refusing to remove container ${foreign}: it does not carry this controller's`);
    expect((await podman("container", "exists", foreign)).exitCode).toBe(0);
    expect((await podman("container", "exists", prod)).exitCode).toBe(0);
    await expect(readFile(marker)).rejects.toMatchObject({ code: "ENOENT" });
    // A person who removed it by hand tells Lifeboat so.
    const forgot = await runCli(["stage", "down", "bbbbbbbbbbbb", "--forget"], ws.env);
    expect(forgot.exitCode, forgot.stderr).toBe(0);
  } finally {
    await podman("rm", "-f", foreign);
  }
});

test("a branch that changes the provider is not staged: a provider's commands run on the controller", async () => {
  const marker = path.join(ws.root, "pwned-by-branch");
  await git("checkout", "-q", "-b", "hostile");
  await writeFile(
    path.join(ws.root, "runbooks/web1.yaml"),
    `host: web1\nprovider:\n  command:\n    create: "touch ${marker}; echo address=127.0.0.1"\n    destroy: "touch ${marker}"\nsteps:\n  - restore\n`,
  );
  await git("commit", "-q", "-am", "a hostile change");
  await git("checkout", "-q", "main");
  const r = await runCli(["stage", "up", "--host", "web1", "--ref", "hostile"], ws.env);
  expect(r.exitCode, r.stderr).toBe(2);
  expect(r.stderr).toContain("changes web1's provider");
  await expect(readFile(marker)).rejects.toMatchObject({ code: "ENOENT" });
});
