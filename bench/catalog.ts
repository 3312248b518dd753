// bench/catalog: `status`, `digest` and one watchdog round against catalogs of 1k, 10k, 100k and 1M run records
// (50 hosts: a nightly snapshot and its prune, a weekly check and a weekly drill with its report, one failed
// snapshot a month), on the S3 test server. Prints each command's time and the S3 requests it made, per size.
// The history is written straight into the server's directory (bench/history.ts).
//   npm run bench:catalog     (BENCH_SIZES=1000,10000,100000,1000000  BENCH_HOSTS=50  BENCH_IDLE_SECONDS=30  BENCH_DIR)
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import path from "node:path";
import { writeHistory } from "./history.ts";
import { benchEnv, benchNode, startBenchS3 } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-catalog";
const sizes = (process.env.BENCH_SIZES ?? "1000,10000,100000,1000000").split(",").map(Number);
const hosts = Number(process.env.BENCH_HOSTS ?? 50);
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(24).toString("base64url");
const bucket = "lifeboat-test";
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);

function writeConfig(port: number, ca: string, daemonPort: number): void {
  rmSync(path.join(dir, "policies"), { recursive: true, force: true });
  mkdirSync(path.join(dir, "policies"), { recursive: true });
  writeFileSync(
    path.join(dir, "lifeboat.yaml"),
    `targets:\n  offsite: { type: s3, endpoint: "https://127.0.0.1:${port}", bucket: ${bucket}, pathStyle: true, caFile: ${ca} }\ndefaults:\n  repository: offsite\n  schedule: "0 0 1 1 *"\ndaemon:\n  listen: 127.0.0.1:${daemonPort}\n  watchdogInterval: 1h\n  checkSchedule: "0 0 1 1 *"\n`,
  );
  for (let h = 0; h < hosts; h++) {
    const host = `h${String(h).padStart(3, "0")}`;
    writeFileSync(
      path.join(dir, "policies", `${host}.yaml`),
      `host: ${host}\nirreplaceable: [/srv/${host}]\n`,
    );
  }
}

const requestLog = path.join(dir, "requests.log");
const requests = (): number => readFileSync(requestLog, "utf8").split("\n").filter(Boolean).length;

/** Seconds, S3 requests and peak RSS of one Lifeboat command. */
interface Measured {
  seconds: number;
  requests: number;
  /** Peak resident size. */
  rssMiB: number;
  /** The daemon's resident size after it sat idle for IDLE_SECONDS. */
  idleMiB?: number;
}

function measure(
  args: string[],
  env: NodeJS.ProcessEnv,
  verify: (stdout: string) => void = () => {},
): Measured {
  writeFileSync(requestLog, "");
  const start = process.hrtime.bigint();
  // GNU time (Debian's package "time") for the peak RSS of the command's own process.
  const r = spawnSync("/usr/bin/time", ["-f", "%M", benchNode, ...args], { env, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // status and digest exit 9 when a host needs attention (the generated failures): that is an answer.
  if (r.status !== 0 && r.status !== 9) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  verify(r.stdout);
  const rssKib = Number(r.stderr.trim().split("\n").at(-1));
  return { seconds, requests: requests(), rssMiB: rssKib / 1024 };
}

/**
 * The daemon from its start to the end of its first watchdog round (its catch-up reads each host's newest
 * snapshot first): seconds, S3 requests, and the resident size of the daemon's process then.
 */
async function daemonFirstRound(env: NodeJS.ProcessEnv, port: number): Promise<Measured> {
  writeFileSync(requestLog, "");
  const start = process.hrtime.bigint();
  const daemon = spawn(benchNode, [path.join(root, "bin/lifeboat.js"), "--log-level", "warn", "daemon"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    for (;;) {
      if (daemon.exitCode !== null) throw new Error(`the daemon exited ${daemon.exitCode}`);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => "");
      if (/lifeboat_watchdog_runs_total\{result="ok"\} [1-9]/.test(metrics)) break;
      if (/lifeboat_watchdog_runs_total\{result="failed"\} [1-9]/.test(metrics))
        throw new Error("the watchdog round failed");
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    // On Node 24 the launcher is the daemon; on an older Node its child is.
    const child =
      spawnSync("pgrep", ["-P", String(daemon.pid)], { encoding: "utf8" }).stdout.trim() || daemon.pid;
    const status = readFileSync(`/proc/${child}/status`, "utf8");
    const rssKib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    const counted = requests();
    // Then idle for a while (no job is due for a year, the next round in an hour): what it keeps.
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idle = readFileSync(`/proc/${child}/status`, "utf8");
    const idleKib = Number(/VmRSS:\s+(\d+) kB/.exec(idle)?.[1] ?? 0);
    return { seconds, requests: counted, rssMiB: rssKib / 1024, idleMiB: idleKib / 1024 };
  } finally {
    daemon.kill("SIGTERM");
    await new Promise((r) => daemon.once("exit", r));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const rows: string[] = [];
for (const size of sizes) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const s3dir = path.join(dir, "s3");
  const catalogDir = path.join(s3dir, "data", bucket, "lifeboat", "_catalog");
  const genStart = Date.now();
  const names = Array.from({ length: hosts }, (_, h) => `h${String(h).padStart(3, "0")}`);
  writeHistory(catalogDir, names, Math.ceil(size / hosts));
  process.stderr.write(
    `${size} records for ${hosts} hosts written in ${((Date.now() - genStart) / 1000).toFixed(0)} s\n`,
  );
  const s3 = await startBenchS3(s3dir, { accessKey, secretKey, bucket }, "127.0.0.1", {
    keepData: true,
    requestLog,
  });
  try {
    const daemonPort = await freePort();
    writeConfig(s3.port, s3.ca, daemonPort);
    const env = { ...benchEnv(dir, { accessKey, secretKey }), NO_COLOR: "1" };
    const cli = path.join(root, "bin/lifeboat.js");
    // A first status warms the server's directory cache; the figures are the second of each.
    measure([cli, "--json", "status"], env);
    const status = measure([cli, "--json", "status"], env);
    const digest = measure([cli, "--json", "digest"], env, (out) => {
      const rows = (JSON.parse(out) as { result: { rows: Array<{ lastDrill?: unknown }> } }).result.rows;
      const missed = rows.filter((r) => !r.lastDrill).length;
      if (rows.length !== hosts || missed)
        throw new Error(`the digest missed the drills of ${missed} hosts: ${out.slice(0, 1500)}`);
    });
    const round = await daemonFirstRound(env, daemonPort);
    const cell = (m: Measured) =>
      `${m.seconds.toFixed(2)} s, ${m.requests} req, ${m.rssMiB.toFixed(0)} MiB${m.idleMiB ? ` (idle ${m.idleMiB.toFixed(0)})` : ""}`.padEnd(
        28,
      );
    rows.push(`${String(size).padStart(9)}  ${cell(status)} ${cell(digest)} ${cell(round)}`);
    process.stderr.write(`${rows.at(-1)}\n`);
  } finally {
    s3.child.kill("SIGTERM");
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(
  `bench/catalog: ${hosts} hosts on the S3 test server (time, S3 requests, peak RSS of the process)`,
);
console.log(
  `${"records".padStart(9)}  ${"status".padEnd(28)} ${"digest".padEnd(28)} ${"daemon: start + 1st watchdog round"}`,
);
for (const row of rows) console.log(row);
