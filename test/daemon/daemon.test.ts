// `lifeboat daemon` against real restic, with second-level cron schedules: jobs run on time, a busy host's
// tick is skipped and recorded, a missed run runs once at start, transient failures retry within their window,
// SIGTERM leaves no unfinished record and no lock, SIGHUP reloads, /metrics and /healthz answer.
import { chmod, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { expect, inject, vi } from "vitest";
import { listRuns, type RunRecord, readRecord } from "../../src/catalog/records.js";
import { catalogFor } from "../../src/catalog/store.js";
import { startCli } from "../helpers/cli.js";
import { s3Env, startS3Server } from "../helpers/s3/start.js";
import { smtpConfig, startSmtp } from "../helpers/smtp.js";
import { test, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 120_000 });

const DAEMON = `daemon:
  listen: 127.0.0.1:0
  watchdogInterval: 1s
  retryDelay: 1s
  retryWindow: 4s
  shutdownGrace: 20s
`;

interface RunningDaemon {
  url: string;
  stderr: () => string;
  logs: () => Array<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number>;
  process: ReturnType<typeof startCli>;
}

async function startDaemon(ws: Workspace, env: NodeJS.ProcessEnv = ws.env): Promise<RunningDaemon> {
  const cli = startCli(["daemon"], env, undefined, { forceKillAfterDelay: false });
  let exited = false;
  void cli.then(() => {
    exited = true;
  });
  let stderr = "";
  cli.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const logs = () =>
    stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (let i = 0; i < 300; i++) {
    const started = logs().find((l) => l.msg === "daemon started");
    if (started) {
      return {
        url: `http://${String(started.listen)}`,
        stderr: () => stderr,
        logs,
        process: cli,
        async stop(signal = "SIGTERM") {
          cli.kill(signal);
          return (await cli).exitCode ?? -1;
        },
      };
    }
    if (exited) break;
    await sleep(100);
  }
  cli.kill("SIGKILL");
  throw new Error(`the daemon did not start:\n${stderr}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function records(ws: Workspace, host: string, target = "primary"): Promise<RunRecord[]> {
  const catalog = catalogFor(await ws.config(), target);
  const out: RunRecord[] = [];
  for (const run of await listRuns(catalog, host)) {
    const r = run.endKey ? await readRecord(catalog, run.endKey) : undefined;
    out.push(
      r ?? ({ id: run.id, kind: run.kind, outcome: "running", startedAt: run.startedAt } as RunRecord),
    );
  }
  return out;
}

async function web1(ws: Workspace, schedule: string, extra = ""): Promise<void> {
  await ws.writeData({ "web1/uploads/a.txt": "first upload\n" });
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\nschedule: "${schedule}"\nirreplaceable: [${ws.data("web1/uploads")}]\n${extra}`,
  );
}

test("jobs run on their schedule; /metrics and /healthz answer; SIGTERM leaves no unfinished run and no lock", async ({
  ws,
}) => {
  await ws.writeConfig(`targets:\n  primary: { type: local }\n${DAEMON}`);
  await web1(ws, "*/3 * * * * *");
  const daemon = await startDaemon(ws);
  // Two ticks on time that have ended (each ran or, on a busy machine, was skipped).
  await waitFor(daemon, "two scheduled snapshots on time", async () => {
    const ended = (await records(ws, "web1")).filter((r) => r.kind === "snapshot" && r.outcome !== "running");
    return (
      ended.filter((r) => new Date(r.startedAt).getUTCSeconds() % 3 === 0).length >= 2 &&
      ended.filter((r) => r.outcome === "succeeded").length >= 2
    );
  });
  const health = await fetch(`${daemon.url}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", hosts: 1 });
  const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  const success = parseMetric(metrics, "lifeboat_last_success_timestamp_seconds", {
    host: "web1",
    kind: "snapshot",
  });
  expect(success).toBeGreaterThan(Date.now() / 1000 - 10);
  expect(
    parseMetric(metrics, "lifeboat_last_run_duration_seconds", { host: "web1", kind: "snapshot" }),
  ).toBeGreaterThan(0);
  expect(parseMetric(metrics, "lifeboat_host_stale", { host: "web1" })).toBe(0);

  expect(await daemon.stop()).toBe(0);
  const all = (await records(ws, "web1")).filter((r) => r.kind === "snapshot");
  const runs = all.filter((r) => r.outcome !== "skipped");
  // One catch-up at start (there was no snapshot yet), then a tick every 3 seconds: each tick either ran or,
  // on a machine so busy that the previous run was still going, was recorded as skipped, at its time.
  const onTime = all.filter((r) => new Date(r.startedAt).getUTCSeconds() % 3 === 0);
  expect(onTime.length).toBeGreaterThanOrEqual(2);
  expect(runs.length).toBeGreaterThanOrEqual(2);
  expect(runs.every((r) => r.trigger === "schedule")).toBe(true);
  expect(runs.every((r) => r.outcome === "succeeded" || r.outcome === "interrupted")).toBe(true);
  expect(await readdir(path.join(ws.home, "repositories/primary/web1/locks"))).toEqual([]);
});

test("a tick while the host's previous run still goes is skipped and recorded; SIGTERM mid-run finishes it", async ({
  ws,
}) => {
  // restic whose backups take 4 s, so that 1-second ticks find the host busy.
  const slow = path.join(ws.root, "slow-restic");
  const real = (await execa("sh", ["-c", "command -v restic"])).stdout;
  await writeFile(slow, `#!/bin/sh\nfor a; do [ "$a" = backup ] && sleep 4; done\nexec ${real} "$@"\n`);
  await chmod(slow, 0o755);
  await ws.writeConfig(`targets:\n  primary: { type: local }\n${DAEMON}`);
  await web1(ws, "* * * * * *");
  const daemon = await startDaemon(ws, { ...ws.env, LIFEBOAT_RESTIC: slow });
  await waitFor(daemon, "a skipped tick", async () =>
    (await records(ws, "web1")).some((r) => r.outcome === "skipped"),
  );
  expect(await daemon.stop()).toBe(0);
  const runs = await records(ws, "web1");
  const skipped = runs
    .filter((r) => r.outcome === "skipped")
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  expect(skipped[0]?.details).toEqual({ reason: "the host's previous run was still going" });
  // One busy spell: its first tick at once, the others (if any came) as one record when the run ended.
  expect(skipped.length).toBeLessThanOrEqual(2);
  if (skipped[1]) expect(skipped[1].details?.ticks).toBeGreaterThanOrEqual(1);
  // The run that was going when SIGTERM came finished within the grace period: every run has its end.
  const snapshots = runs.filter((r) => r.kind === "snapshot" && r.outcome !== "skipped");
  expect(snapshots.length).toBe(1);
  expect(snapshots[0]?.outcome).toBe("succeeded");
  expect(await readdir(path.join(ws.home, "repositories/primary/web1/locks"))).toEqual([]);
  // status does not count skipped runs as failures.
  const status = await execa(process.execPath, [path.resolve("bin/lifeboat.js"), "--json", "status"], {
    env: ws.env,
    reject: false,
  });
  expect(JSON.parse(status.stdout).result[0].lastRun.outcome).toBe("succeeded");
});

test("a run missed while the daemon was down runs once at start, not again after a restart", async ({
  ws,
}) => {
  await ws.writeConfig(`targets:\n  primary: { type: local }\n${DAEMON}`);
  await web1(ws, "0 0 1 1 *"); // yearly: the last time it was due has passed
  const first = await startDaemon(ws);
  await waitFor(first, "the caught-up snapshot to end", async () =>
    (await records(ws, "web1")).some((r) => r.kind === "snapshot" && r.outcome === "succeeded"),
  );
  expect(await first.stop()).toBe(0);
  expect((await records(ws, "web1")).filter((r) => r.kind === "snapshot")).toHaveLength(1);
  expect(first.logs().some((l) => l.msg === "missed while the daemon was down: running it now")).toBe(true);
  const second = await startDaemon(ws);
  // Catch-up is decided once, at start: when it is done, nothing more is started for a yearly job.
  await waitFor(second, "catch-up", async () => second.logs().some((l) => l.msg === "catch-up done"));
  expect(second.logs().find((l) => l.msg === "catch-up done")?.started).toEqual([]);
  expect(await second.stop()).toBe(0);
  expect((await records(ws, "web1")).filter((r) => r.kind === "snapshot")).toHaveLength(1);
});

test("a permanent failure is not retried and counts in /metrics; the watchdog sees the stale host", async ({
  ws,
}) => {
  await ws.writeConfig(`targets:\n  primary: { type: local }\n${DAEMON}`);
  await ws.writePolicy(
    "gone.yaml",
    `host: gone\nschedule: "0 0 1 1 *"\nrpo: 1h\ntransport: local\nirreplaceable: [${ws.data("never-there")}]\n`,
  );
  const daemon = await startDaemon(ws);
  let metrics = "";
  await waitFor(daemon, "the failure and the stale host in /metrics", async () => {
    metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    return (
      parseMetric(metrics, "lifeboat_run_failures_total", {
        host: "gone",
        kind: "snapshot",
        code: "DATA_MISSING",
      }) !== undefined && parseMetric(metrics, "lifeboat_host_stale", { host: "gone" }) === 1
    );
  });
  // Long enough for a wrong retry to show: the window is 4 s with a first delay of 1 s.
  await sleep(1500);
  metrics = await (await fetch(`${daemon.url}/metrics`)).text();
  expect(await daemon.stop()).toBe(0);
  // DATA_MISSING is permanent: one attempt only.
  const runs = (await records(ws, "gone")).filter((r) => r.kind === "snapshot");
  expect(runs.map((r) => r.error?.code)).toEqual(["DATA_MISSING"]);
  expect(
    parseMetric(metrics, "lifeboat_run_failures_total", {
      host: "gone",
      kind: "snapshot",
      code: "DATA_MISSING",
    }),
  ).toBe(1);
  // Never snapshotted: stale, by the watchdog.
  expect(parseMetric(metrics, "lifeboat_host_stale", { host: "gone" })).toBe(1);
  expect(
    daemon
      .logs()
      .some((l) => l.msg === "hosts are stale: their newest good snapshot is older than their RPO"),
  ).toBe(true);
});

test("a failure that may pass (host unreachable) is retried with backoff within the retry window, then left", async ({
  ws,
}) => {
  const s3 = inject("s3");
  Object.assign(process.env, s3Env(s3));
  await ws.useS3(s3);
  await ws.writeConfig(`${await readFile(ws.configFile, "utf8")}${DAEMON}`);
  // Nothing listens on port 1: ssh fails at once with HOST_UNREACHABLE.
  await ws.writePolicy(
    "far.yaml",
    `host: far\nschedule: "0 0 1 1 *"\ntransport: { ssh: { destination: "backup@127.0.0.1", port: 1 } }\nirreplaceable: [/srv/data]\n`,
  );
  const daemon = await startDaemon(ws);
  // The last attempt ends with "job failed" (no more retries left in the window).
  await waitFor(daemon, "the retries to end", async () => daemon.logs().some((l) => l.msg === "job failed"));
  expect(await daemon.stop()).toBe(0);
  const runs = (await records(ws, "far", "offsite")).filter((r) => r.kind === "snapshot");
  expect(runs.length).toBeGreaterThanOrEqual(2);
  expect(runs.length).toBeLessThanOrEqual(3);
  expect(runs.every((r) => r.error?.code === "HOST_UNREACHABLE")).toBe(true);
  expect(daemon.logs().filter((l) => l.msg === "job failed for a passing reason: retrying").length).toBe(
    runs.length - 1,
  );
});

test("SIGHUP reloads the policies; an invalid reload keeps the old ones and says why", async ({ ws }) => {
  await ws.writeConfig(`targets:\n  primary: { type: local }\n${DAEMON}`);
  await web1(ws, "0 0 1 1 *");
  const daemon = await startDaemon(ws);
  await waitFor(daemon, "catch-up", async () => daemon.logs().some((l) => l.msg === "catch-up done"));
  await ws.writePolicy("broken.yaml", "host: broken\nirreplaceable: [relative/path]\n");
  daemon.process.kill("SIGHUP");
  await waitFor(daemon, "the failed reload", async () =>
    daemon.logs().some((l) => l.msg === "reload failed: keeping the policies and runbooks loaded before"),
  );
  expect(daemon.stderr()).toContain("must be an absolute path");
  const health = (await (await fetch(`${daemon.url}/healthz`)).json()) as { hosts: number };
  expect(health.hosts).toBe(1);
  await ws.writePolicy(
    "broken.yaml",
    `host: broken\nschedule: "0 0 1 1 *"\nirreplaceable: [${ws.data("web1/uploads")}]\n`,
  );
  daemon.process.kill("SIGHUP");
  await waitFor(daemon, "the reload", async () =>
    daemon.logs().some((l) => l.msg === "reloaded policies and runbooks" && l.hosts === 2),
  );
  expect(await daemon.stop()).toBe(0);
});

test("the watchdog's own failure (its storage went away) is an alert, once; /healthz says so until it works again", async ({
  ws,
}) => {
  // A server of its own: this test kills it.
  const s3 = await startS3Server();
  const smtp = await startSmtp();
  try {
    await ws.useS3(s3);
    await ws.writeConfig(`${await readFile(ws.configFile, "utf8")}${smtpConfig(smtp)}${DAEMON}`);
    await web1(ws, "0 0 1 1 *");
    const env = { ...ws.env, ...s3Env(s3), SMTP_USER: smtp.user, SMTP_PASSWORD: smtp.password };
    const daemon = await startDaemon(ws, env);
    const health = async () => {
      const r = await fetch(`${daemon.url}/healthz`);
      return { status: r.status, body: (await r.json()) as { problem?: string } };
    };
    await waitUntil(async () => (await health()).status === 200);
    s3.kill();
    const isAlert = (m: { subject?: string }) =>
      m.subject === "[lifeboat] ALERT lifeboat: watchdog failed (WATCHDOG_FAILED)";
    const alert = await smtp.waitFor(isAlert, 60_000);
    expect(alert.text).toContain("cannot check the hosts' freshness");
    expect(alert.text).toContain("lifeboat doctor");
    const sick = await health();
    expect(sick.status).toBe(503);
    expect(sick.body.problem).toMatch(/^the watchdog failed: /);
    // Rounds go on failing (every second here); the alert is not repeated.
    await waitFor(daemon, "three failed watchdog rounds", async () => {
      const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
      return (parseMetric(metrics, "lifeboat_watchdog_runs_total", { result: "failed" }) ?? 0) >= 3;
    });
    expect(smtp.messages.filter(isAlert)).toHaveLength(1);
    expect(await daemon.stop()).toBe(0);
  } finally {
    await smtp.stop();
    await s3.stop();
  }
});

/** Polls until `ok`; at the deadline, fails naming what it waited for, with the daemon's log. */
async function waitFor(
  daemon: RunningDaemon,
  what: string,
  ok: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; the daemon's log:\n${daemon.stderr()}`);
    await sleep(200);
  }
}

async function waitUntil(ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(200);
  }
}

/** The value of one sample in Prometheus text format, found by name and labels. */
function parseMetric(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

test("S3 credentials are resolved again for each run: keys rotated under a running daemon are used", async ({
  ws,
}) => {
  // A server of its own, restarted with new keys; the daemon reads its keys from a credentials file.
  let s3 = await startS3Server();
  const credentials = path.join(ws.root, "aws-credentials");
  const writeKeys = (s: { accessKeyId: string; secretAccessKey: string }) =>
    writeFile(
      credentials,
      `[default]\naws_access_key_id = ${s.accessKeyId}\naws_secret_access_key = ${s.secretAccessKey}\n`,
      { mode: 0o600 },
    );
  try {
    await ws.useS3(s3);
    // A run caught by the restart gives up in seconds, not the default five minutes.
    const config = (await readFile(ws.configFile, "utf8")).replace(
      /(\n\s+caFile: .*\n)/,
      "$1    outageTimeout: 5s\n",
    );
    await ws.writeConfig(`${config}${DAEMON}`);
    await web1(ws, "*/2 * * * * *");
    await writeKeys(s3);
    const env: NodeJS.ProcessEnv = {
      ...ws.env,
      AWS_SHARED_CREDENTIALS_FILE: credentials,
      AWS_CONFIG_FILE: path.join(ws.root, "no-aws-config"),
      AWS_EC2_METADATA_DISABLED: "true",
    };
    // Empty rather than absent: execa adds this process's environment (which has other keys) to the child's.
    env.AWS_ACCESS_KEY_ID = "";
    env.AWS_SECRET_ACCESS_KEY = "";
    const daemon = await startDaemon(ws, env);
    const lastSnapshot = async () =>
      parseMetric(
        await (await fetch(`${daemon.url}/metrics`)).text(),
        "lifeboat_last_success_timestamp_seconds",
        {
          host: "web1",
          kind: "snapshot",
        },
      ) ?? 0;
    await waitFor(daemon, "a snapshot with the first keys", async () => (await lastSnapshot()) > 0);
    // The old keys stop working: a new server on the same storage and port knows only new ones.
    await s3.stop();
    s3 = await startS3Server({ dir: s3.dir, port: s3.port });
    await writeKeys(s3);
    const rotated = Date.now() / 1000;
    await waitFor(
      daemon,
      "a snapshot with the rotated keys",
      async () => (await lastSnapshot()) > rotated + 1,
    );
    expect(await daemon.stop()).toBe(0);
  } finally {
    await s3.stop();
  }
});
