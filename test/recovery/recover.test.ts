// Recovery and drills on the container fleet with the example web1 (policies/web1.yaml, runbooks/web1.yaml):
// web1 is snapshotted, destroyed, recovered from its runbook; drills leave nothing behind, even when they fail.
import { randomBytes } from "node:crypto";
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, test, vi } from "vitest";
import { listRuns } from "../../src/catalog/records.js";
import { catalogFor } from "../../src/catalog/store.js";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { ContainerTransport } from "../../src/transport/container.js";
import { jsonResult, runCli, startCli } from "../helpers/cli.js";
import { type ContainerHost, DB_IMAGE, sh, startContainerHost } from "../helpers/fleet.js";
import { argvsDuring } from "../helpers/proc.js";
import { s3Env } from "../helpers/s3/start.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const REPO = path.resolve(import.meta.dirname, "../..");
const name = `lbr-web1-${tag}`;
let ws: Workspace;
let production: ContainerHost;
// Every upload's hash; the thumbnails are classified ignored, so they are not expected back.
const uploadsHash =
  "cd /srv/app/uploads && find . -type f ! -path './.thumbnails/*' -exec sha256sum {} + | sort -k2";

/** The example web1 in a workspace: its policy and runbook, with the test's container name and image. */
async function exampleWeb1(ws: Workspace, runbookEdit: (yaml: string) => string = (y) => y): Promise<void> {
  const policy = (await readFile(path.join(REPO, "policies/web1.yaml"), "utf8"))
    .replace("transport: { container: web1 }", `transport: { container: ${name} }`)
    .replace("repository: vault\n", "");
  await ws.writePolicy("web1.yaml", policy);
  await cp(path.join(REPO, "runbooks/files"), path.join(ws.root, "runbooks/files"), { recursive: true });
  const runbook = (await readFile(path.join(REPO, "runbooks/web1.yaml"), "utf8")).replace(
    "image: localhost/lifeboat-base:bookworm",
    `image: localhost/${DB_IMAGE}`,
  );
  await writeFile(path.join(ws.root, "runbooks/web1.yaml"), runbookEdit(runbook));
}

/** Containers and networks a run left behind, found by the label every machine it makes carries. */
async function leftBehind(runId: string): Promise<string[]> {
  const containers = await execa("podman", [
    "ps",
    "-a",
    "--filter",
    `label=lifeboat.run=${runId}`,
    "--format",
    "{{.Names}}",
  ]);
  const networks = await execa("podman", [
    "network",
    "ls",
    "--filter",
    `label=lifeboat.run=${runId}`,
    "--format",
    "{{.Name}}",
  ]);
  return [...String(containers.stdout).split("\n"), ...String(networks.stdout).split("\n")].filter(Boolean);
}

async function drillMachines(): Promise<string[]> {
  const r = await execa("podman", [
    "ps",
    "-a",
    "--filter",
    "label=lifeboat.host=web1",
    "--filter",
    "label=lifeboat.mode=drill",
    "--format",
    "{{.Names}}",
  ]);
  return String(r.stdout)
    .split("\n")
    .filter((n) => n.includes(tag) || n.startsWith("web1-drill-"));
}

beforeAll(async () => {
  // The catalog is read here too, with the test server's credentials.
  Object.assign(process.env, s3Env(s3));
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  await exampleWeb1(ws);
  // Production web1: uploads and the app's state, owned by www-data as nginx would serve them.
  production = await startContainerHost(name, DB_IMAGE);
  await sh(production.root, "mkdir -p /srv/app/uploads/2026 /srv/app/uploads/.thumbnails /var/lib/app");
  await production.root.writeFile("/srv/app/uploads/logo.png", randomBytes(50_000));
  await production.root.writeFile("/srv/app/uploads/2026/contract.pdf", randomBytes(400_000));
  await production.root.writeFile("/srv/app/uploads/.thumbnails/logo.png", "thumbnail");
  await production.root.writeFile("/var/lib/app/guestbook.txt", `first entry ${tag}\n`);
  await sh(production.root, "chown -R www-data: /srv/app/uploads");
}, 300_000);

afterAll(async () => {
  await execa("podman", ["rm", "-f", "--time", "0", name], { reject: false });
  const aside = await execa(
    "podman",
    ["ps", "-a", "--format", "{{.Names}}", "--filter", `name=${name}-replaced`],
    { reject: false },
  );
  for (const n of String(aside.stdout).split("\n").filter(Boolean))
    await execa("podman", ["rm", "-f", "--time", "0", n], { reject: false });
  await rm(ws.root, { recursive: true, force: true });
});

describe("web1 from its runbook", () => {
  let expected = "";
  let snapshotRun = "";

  test("a snapshot, then the disaster: web1 is destroyed", async () => {
    const snap = await runCli(["--json", "snapshot", "--host", "web1"], ws.env);
    expect(snap.exitCode, snap.stderr).toBe(0);
    expected = await sh(production.root, uploadsHash);
    // The sentinel went into each irreplaceable directory just before the snapshot.
    const sentinel = JSON.parse(await sh(production.root, "cat /var/lib/app/.lifeboat-sentinel"));
    expect(sentinel.host).toBe("web1");
    snapshotRun = sentinel.runId;
    const runs = await listRuns(catalogFor(await ws.config(), "offsite"), "web1");
    expect(runs.filter((r) => r.kind === "snapshot").at(-1)?.id).toBe(snapshotRun);
    await production.remove();
  });

  test("--dry-run prints the plan and changes nothing", async () => {
    const r = await runCli(["--json", "recover", "--host", "web1", "--dry-run"], ws.env);
    const result = jsonResult<{
      dryRun: boolean;
      plan: { steps: unknown[]; paths: string[]; snapshot: { id: string } };
    }>(r);
    expect(result.dryRun).toBe(true);
    expect(result.plan.paths).toEqual(["/srv/app/uploads", "/var/lib/app"]);
    expect(result.plan.steps).toHaveLength(5);
    expect((await execa("podman", ["container", "exists", name], { reject: false })).exitCode).toBe(1);
    const human = await runCli(["recover", "--host", "web1", "--dry-run"], ws.env);
    expect(human.stderr).toContain("Recovery plan for web1");
    expect(human.stderr).toContain("4. restore");
  });

  test("recover brings web1 back: checks pass, uploads byte-identical, RPO read from the sentinel", async () => {
    const r = await runCli(["--json", "recover", "--host", "web1"], ws.env);
    const report = jsonResult<RecoveryReport>(r);
    expect(report.verdict).toBe("passed");
    expect(report.machine).toBe(name);
    expect(report.phases.map((p) => [p.name, p.status])).toEqual([
      ["provision", "passed"],
      ["configure", "passed"],
      ["restore", "passed"],
      ["start", "passed"],
      ["verify", "passed"],
    ]);
    expect(report.checks.map((c) => c.status)).toEqual(["passed", "passed", "passed"]);
    expect(report.rpo.sentinelRunId).toBe(snapshotRun);
    expect(report.rpo.met).toBe(true);
    expect(report.rto.targetSeconds).toBe(900);
    expect(report.restored?.bytes).toBeGreaterThan(450_000);
    const back = new ContainerTransport("web1", name, "podman");
    expect(await sh(back, uploadsHash)).toBe(expected);
    // Ignored data was never saved, so it does not come back.
    expect((await back.run(["test", "-e", "/srv/app/uploads/.thumbnails/logo.png"])).exitCode).toBe(1);
    // Snapshots go on working against the recovered machine.
    const again = await runCli(["snapshot", "--host", "web1"], ws.env);
    expect(again.exitCode, again.stderr).toBe(0);
  });

  test("recover over a machine that still exists needs --replace, which keeps the old one", async () => {
    const refused = await runCli(["recover", "--host", "web1"], ws.env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("HOST_EXISTS");
    expect(refused.stderr).toContain("--replace");
    const oldId = (await execa("podman", ["inspect", "--format", "{{.Id}}", name])).stdout;
    const replaced = jsonResult<RecoveryReport>(
      await runCli(["--json", "recover", "--host", "web1", "--replace"], ws.env),
    );
    expect(replaced.verdict).toBe("passed");
    // The old machine is kept, stopped, under a new name; the new one has the production name.
    const kept = await execa("podman", [
      "ps",
      "-a",
      "--filter",
      `id=${oldId}`,
      "--format",
      "{{.Names}} {{.State}}",
    ]);
    expect(String(kept.stdout)).toMatch(new RegExp(`^${name}-replaced-\\d{8}T\\d{6} exited`, "i"));
    expect((await execa("podman", ["inspect", "--format", "{{.Id}}", name])).stdout).not.toBe(oldId);
  });

  test("a drill proves the recovery on an isolated machine and removes it", async () => {
    const before = (await execa("podman", ["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", name]))
      .stdout;
    const cli = startCli(["--json", "--log-level", "debug", "drill", "--host", "web1"], ws.env);
    const argvs = await argvsDuring(cli);
    const done = await cli;
    const r = { exitCode: done.exitCode ?? -1, stdout: String(done.stdout), stderr: String(done.stderr) };
    const report = jsonResult<RecoveryReport>(r);
    expect(report.verdict).toBe("passed");
    expect(report.machine).toBe(`web1-drill-${report.runId}`);
    // The repository password and the S3 secret reach restic on the drill machine in no argv, log or record.
    expect(argvs.some((a) => /\/var\/tmp\/lifeboat\.\w+\/restic restore/.test(a))).toBe(true);
    const password = (await readFile(path.join(ws.home, "keys/offsite.key"), "utf8")).trim();
    const catalog = catalogFor(await ws.config(), "offsite");
    const records = [];
    for (const run of await listRuns(catalog, "web1"))
      if (run.endKey) records.push(await catalog.get(run.endKey));
    for (const secret of [password, s3.secretAccessKey]) {
      expect(argvs.filter((a) => a.includes(secret))).toEqual([]);
      expect(r.stdout + r.stderr).not.toContain(secret);
      expect(records.join("\n")).not.toContain(secret);
    }
    expect(report.cleanup).toBe("removed");
    expect(await leftBehind(report.runId)).toEqual([]);
    // Production was not touched.
    expect(
      (await execa("podman", ["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", name])).stdout,
    ).toBe(before);
    const runs = await listRuns(catalogFor(await ws.config(), "offsite"), "web1");
    expect(runs.filter((x) => x.kind === "drill").map((x) => x.id)).toContain(report.runId);
  });
});

describe("drills that fail", () => {
  test("a failing step: a failed report naming the step, its exit code and output tail; nothing left", async () => {
    const broken = await createWorkspace();
    try {
      await broken.useFleetS3(s3);
      await exampleWeb1(broken, (y) =>
        y.replace(
          "  - restore",
          `  - name: migrate\n    shell: "echo applying schema 7; echo 'no such table: users' >&2; exit 3"\n  - restore`,
        ),
      );
      // Its own snapshot: web1's data in this workspace's repository.
      const host = await startContainerHost(name.replace("web1", "src"), DB_IMAGE);
      try {
        await sh(
          host.root,
          "mkdir -p /srv/app/uploads /var/lib/app && echo x > /srv/app/uploads/a && echo y > /var/lib/app/g",
        );
        await broken.writePolicy(
          "web1.yaml",
          (await readFile(path.join(broken.policiesDir, "web1.yaml"), "utf8")).replace(name, host.name),
        );
        const snap = await runCli(["snapshot", "--host", "web1"], broken.env);
        expect(snap.exitCode, snap.stderr).toBe(0);
      } finally {
        await host.remove();
      }
      const r = await runCli(["--json", "drill", "--host", "web1"], broken.env);
      expect(r.exitCode, r.stdout).toBe(1);
      const error = JSON.parse(r.stdout).error;
      expect(error.code).toBe("STEP_FAILED");
      expect(error.message).toContain("migrate");
      const report = error.details.outcome as RecoveryReport;
      expect(report.failure?.step).toBe("migrate");
      expect(report.failure?.exitCode).toBe(3);
      expect(report.failure?.outputTail).toContain("no such table: users");
      expect(report.steps.find((s) => s.name === "restore")?.status).toBe("skipped");
      expect(report.cleanup).toBe("removed");
      expect(await leftBehind(report.runId)).toEqual([]);

      // --keep keeps the failed machine for debugging and says how to remove it.
      const kept = await runCli(["--json", "drill", "--host", "web1", "--keep"], broken.env);
      expect(kept.exitCode).toBe(1);
      const keptError = JSON.parse(kept.stdout).error;
      const keptReport = keptError.details.outcome as RecoveryReport;
      expect(keptReport.cleanup).toBe("kept");
      expect(await leftBehind(keptReport.runId)).toHaveLength(2); // the container and its network
      expect(keptError.hint).toContain(keptReport.cleanupHint);
      await execa("sh", ["-c", keptReport.cleanupHint ?? "false"]);
      expect(await leftBehind(keptReport.runId)).toEqual([]);

      // Interrupted mid-step (Ctrl-C): the drill machine still goes.
      const slow = (await readFile(path.join(broken.root, "runbooks/web1.yaml"), "utf8")).replace(
        "exit 3",
        "sleep 600",
      );
      await writeFile(path.join(broken.root, "runbooks/web1.yaml"), slow);
      const cli = startCli(["drill", "--host", "web1"], broken.env);
      let stderr = "";
      cli.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      for (let i = 0; i < 600 && !stderr.includes("» configure"); i++)
        await new Promise((res) => setTimeout(res, 100));
      await new Promise((res) => setTimeout(res, 1500));
      cli.kill("SIGINT");
      const done = await cli;
      expect(done.exitCode, stderr).toBe(130);
      expect(stderr).toContain("teardown passed");
      const runs = await listRuns(catalogFor(await broken.config(), "offsite"), "web1");
      const last = runs.filter((x) => x.kind === "drill").at(-1);
      expect(last?.endKey).toBeDefined();
      expect(await leftBehind(last?.id ?? "")).toEqual([]);
    } finally {
      await rm(broken.root, { recursive: true, force: true });
    }
  });

  test("a wrong password or a missing snapshot fails before anything is provisioned", async () => {
    const before = await drillMachines();
    const missing = await runCli(["drill", "--host", "web1", "--snapshot", "deadbeef"], ws.env);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("SNAPSHOT_NOT_FOUND");
    const config = (await readFile(ws.configFile, "utf8")).replace(
      "defaults:",
      "    passwordEnv: WRONG_PASSWORD\ndefaults:",
    );
    const wrong = await createWorkspace();
    await wrong.useFleetS3(s3);
    await writeFile(wrong.configFile, config);
    await cp(ws.policiesDir, wrong.policiesDir, { recursive: true });
    await cp(path.join(ws.root, "runbooks"), path.join(wrong.root, "runbooks"), { recursive: true });
    const r = await runCli(["drill", "--host", "web1"], { ...wrong.env, WRONG_PASSWORD: "not the key" });
    expect(r.exitCode, r.stderr).toBe(12);
    expect(await drillMachines()).toEqual(before);
  });
});
