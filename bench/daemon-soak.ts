// bench/daemon-soak: `lifeboat daemon` for a while with many policies on second-level schedules, against the
// S3 test server. Prints the resident size, open file descriptors and child processes at start and end, and
// checks that every scheduled tick is accounted for in the catalog (succeeded, or skipped while busy).
// BENCH_HISTORY_DAYS gives every host that many days of generated history first (bench/history.ts).
//   npm run bench:daemon-soak     (BENCH_POLICIES=200, BENCH_MINUTES=10, BENCH_EVERY_SECONDS=60,
//                                  BENCH_HISTORY_DAYS=0, BENCH_DIR, BENCH_CPU_PROFILE)
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runKey } from "../src/catalog/keys.ts";
import { writeHistory } from "./history.ts";
import { benchEnv, benchNode, startBenchS3 } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-soak";
const policies = Number(process.env.BENCH_POLICIES ?? 200);
const minutes = Number(process.env.BENCH_MINUTES ?? 10);
const every = Number(process.env.BENCH_EVERY_SECONDS ?? 60);
const historyDays = Number(process.env.BENCH_HISTORY_DAYS ?? 0);
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(24).toString("base64url");
const bucket = "lifeboat-test";

// A year of history is three million files: an old run's directory is moved aside now and removed after the
// measurement (removing it during the soak took CPU and disk from restic, and showed as a slower soak).
const aside = `${dir}.old-${process.pid}`;
if (existsSync(dir)) renameSync(dir, aside);
mkdirSync(path.join(dir, "policies"), { recursive: true });
const hostNames = Array.from({ length: policies }, (_, i) => `h${i}`);
const catalogDir = path.join(dir, "s3", "data", bucket, "lifeboat", "_catalog");
let historyRecords = 0;
if (historyDays > 0) {
  // A day is a snapshot and a prune (two records each), a week also a check and a drill.
  const perHost = Math.ceil(historyDays * (4 + 4 / 7));
  const began = Date.now();
  // Each host saves one file of 10 bytes (below): its history says the same, so the guard finds nothing odd.
  writeHistory(catalogDir, hostNames, perHost, { files: 1, bytes: 10 });
  historyRecords = perHost * policies;
  // Written back before the soak, not during it.
  spawnSync("sync");
  process.stderr.write(
    `${historyRecords} history records written in ${((Date.now() - began) / 1000).toFixed(0)} s\n`,
  );
}
// Every request the S3 server answers, so the soak can say what the daemon asked of it besides restic's own.
const requestLog = path.join(dir, "requests.log");
const s3 = await startBenchS3(path.join(dir, "s3"), { accessKey, secretKey, bucket }, "127.0.0.1", {
  keepData: historyDays > 0,
  requestLog,
});
const env = benchEnv(dir, { accessKey, secretKey });
const configFile = path.join(dir, "lifeboat.yaml");
writeFileSync(
  configFile,
  `concurrency: 4
targets:
  offsite: { type: s3, endpoint: "https://127.0.0.1:${s3.port}", bucket: ${bucket}, pathStyle: true, caFile: ${s3.ca} }
defaults:
  repository: offsite
  retention: { last: 3 }
daemon:
  listen: 127.0.0.1:0
  watchdogInterval: 30s
  checkSchedule: "0 0 1 1 *"
`,
);
// Each host snapshots once per `every` seconds, the hosts spread over the minute.
for (let i = 0; i < policies; i++) {
  const data = path.join(dir, "data", `h${i}`);
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, "file.txt"), `host ${String(i).padStart(4, "0")}\n`);
  const second = i % 60;
  const schedule = every === 60 ? `${second} * * * * *` : `*/${every} * * * * *`;
  writeFileSync(
    path.join(dir, "policies", `h${i}.yaml`),
    `host: h${i}\nschedule: "${schedule}"\nrpo: 1h\nirreplaceable: [${data}]\n`,
  );
}

// Steady state: every host's repository exists before the soak, as on any night but the first (a first run also
// creates the repository and adds the host's key: two more scrypt derivations in restic, ~3x the CPU of a run).
// One host's repository is made by a real snapshot, then copied for the others with its host key and proofs:
// `lifeboat init` of 500 repositories would take half an hour.
const template = "h0";
const made = spawnSync(benchNode, [path.join(root, "bin/lifeboat.js"), "snapshot", "--host", template], {
  env,
  encoding: "utf8",
});
if (made.status !== 0) throw new Error(`the template snapshot failed: ${made.stderr}`);
const reposDir = path.join(dir, "s3", "data", bucket, "lifeboat");
const home = env.LIFEBOAT_HOME ?? "";
const proofs = path.join(home, "proven", "offsite");
const began = Date.now();
// The hosts here are local (restic runs on the controller with the target's key): no host key, one proof each.
for (const host of hostNames.slice(1)) {
  cpSync(path.join(reposDir, template), path.join(reposDir, host), { recursive: true });
  const proof = JSON.parse(readFileSync(path.join(proofs, `${template}.json`), "utf8"));
  proof.location = proof.location.replace(new RegExp(`/${template}$`), `/${host}`);
  writeFileSync(path.join(proofs, `${host}.json`), JSON.stringify(proof), { mode: 0o600 });
}
process.stderr.write(`${policies} repositories ready in ${((Date.now() - began) / 1000).toFixed(0)} s\n`);

// --trace-gc prints every collection on stdout: the heap left after each full (mark-compact) one is what the
// daemon really holds, which RSS (V8 headroom, malloc arenas) does not tell.
// BENCH_CPU_PROFILE=DIR: the daemon writes a V8 CPU profile there when it stops (open it in Chrome's DevTools).
const profile = process.env.BENCH_CPU_PROFILE
  ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROFILE]
  : [];
const daemon: ChildProcess = spawn(
  benchNode,
  ["--trace-gc", ...profile, path.join(root, "bin/lifeboat.js"), "--log-level", "warn", "daemon"],
  {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  },
);
let liveHeapMiB: number | undefined;
let fullGcs = 0;
let gcLine = "";
daemon.stdout?.on("data", (d: Buffer) => {
  const lines = (gcLine + d.toString()).split("\n");
  gcLine = lines.pop() ?? "";
  for (const line of lines) {
    const m = /Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
    if (!m) continue;
    liveHeapMiB = Number(m[1]);
    fullGcs++;
  }
});
const heap = () =>
  liveHeapMiB === undefined
    ? "no full GC yet"
    : `heap after the last full GC ${liveHeapMiB.toFixed(1)} MB (${fullGcs} full GCs)`;
let stderr = "";
daemon.stderr?.on("data", (d: Buffer) => {
  stderr += d.toString();
  if (stderr.length > 1_000_000) stderr = stderr.slice(-100_000);
});

const pid = daemon.pid ?? 0;
const soakBegan = Date.now();
const rssMiB = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const fds = () => readdirSync(`/proc/${pid}/fd`).length;
const children = () =>
  readdirSync("/proc").filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      return readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ")[1] === String(pid);
    } catch {
      return false;
    }
  }).length;

// CPU seconds of a process itself and of its children that ended (restic, for the daemon): where the two cores go.
const cpu = (p: number) => {
  const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // f[0] is the stat file's field 3 (state): field n is f[n - 3].
  const ticks = (n: number) => Number(f[n - 3] ?? 0) / 100;
  return { self: ticks(14) + ticks(15), children: ticks(16) + ticks(17), childrenSystem: ticks(17) };
};
const s3pid = s3.child.pid ?? 0;
// CPU seconds of each of the daemon's threads by name (the main thread, libuv's pool, V8's helpers).
const threads = () => {
  const by = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim();
      const f = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      by.set(name, (by.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {}
  }
  return by;
};

await new Promise((r) => setTimeout(r, 20_000));
const start = { rss: rssMiB(), fds: fds(), children: children(), heap: heap(), at: Date.now() };
const cpuAtStart = {
  daemon: cpu(pid),
  s3: cpu(s3pid).self,
  threads: threads(),
  requests: readFileSync(requestLog, "utf8").length,
};
const samples: string[] = [];
const sampleEvery = Math.max(60_000, (minutes * 60_000) / 10);
for (let t = 0; t < minutes * 60_000 - 20_000; t += sampleEvery) {
  await new Promise((r) => setTimeout(r, Math.min(sampleEvery, minutes * 60_000 - 20_000 - t)));
  samples.push(
    `${((Date.now() - start.at) / 60_000).toFixed(1)} min: rss ${rssMiB().toFixed(1)} MiB, fds ${fds()}, children ${children()}, ${heap()}`,
  );
}
const end = { rss: rssMiB(), fds: fds(), children: children(), heap: heap() };
const stoppedAt = Date.now();
const cpuAtEnd = { daemon: cpu(pid), s3: cpu(s3pid).self, threads: threads() };
// The requests of the measured window by what they touched: restic's repositories, or the catalog by part.
const byKind = new Map<string, number>();
for (const line of readFileSync(requestLog, "utf8").slice(cpuAtStart.requests).split("\n")) {
  if (!line) continue;
  const [method, where = "", prefix] = line.split(" ");
  const key = (prefix ?? where).replace(/^\/?(?:lifeboat-test\/)?(?:prefix=)?lifeboat\//, "");
  const part = key.startsWith("_catalog/")
    ? `catalog ${key.split("/")[1]}`
    : where === `/${bucket}` && !prefix
      ? "bucket"
      : "repositories";
  const kind = `${method === "GET" && prefix !== undefined ? "LIST" : method} ${part}`;
  byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
}
daemon.kill("SIGTERM");
const code = await new Promise<number | null>((r) => daemon.once("exit", (c) => r(c)));
const afterStop = children();

// Every run of the soak in the catalog (not the generated history before it), by outcome; and the ticks that
// fell inside the window. Keys begin with the run's start, so they compare as strings.
const since = path
  .basename(
    runKey({ host: "x", startedAt: new Date(soakBegan).toISOString(), id: "", kind: "", phase: "start" }),
  )
  .split("_")[0] as string;
const runsDir = path.join(catalogDir, "runs");
const outcomes = new Map<string, number>();
let unfinished = 0;
let skippedRecords = 0;
for (const host of readdirSync(runsDir)) {
  const files = readdirSync(path.join(runsDir, host)).filter((f) => f.endsWith(".json._S3rver_object"));
  const keys = files.map((f) => f.replace(/\._S3rver_object$/, "")).filter((k) => k >= since);
  const endIds = new Set(keys.filter((k) => k.endsWith(".end.json")).map((k) => k.split("_")[1]));
  for (const k of keys) if (k.endsWith(".start.json") && !endIds.has(k.split("_")[1])) unfinished++;
  for (const k of keys.filter((x) => x.endsWith("_snapshot.end.json"))) {
    const record = JSON.parse(readFileSync(path.join(runsDir, host, `${k}._S3rver_object`), "utf8"));
    // A skipped record may stand for several ticks of one busy spell.
    const ticks = record.outcome === "skipped" ? Number(record.details?.ticks ?? 1) : 1;
    outcomes.set(record.outcome, (outcomes.get(record.outcome) ?? 0) + ticks);
    if (record.outcome === "skipped") skippedRecords++;
  }
}
const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
const expectedTicks = Math.floor(((stoppedAt - start.at + 20_000) / 1000 / every) * policies);
s3.child.kill("SIGTERM");

console.log(
  `daemon soak: ${policies} policies, one snapshot each every ${every}s, ${minutes} min, S3 test server, concurrency 4, ` +
    `${historyRecords ? `${historyDays} days of history (${historyRecords} records)` : "empty catalog"}`,
);
console.log(
  `start (after 20 s): rss ${start.rss.toFixed(1)} MiB, fds ${start.fds}, children ${start.children}, ${start.heap}`,
);
for (const s of samples) console.log(`  ${s}`);
console.log(
  `end:                rss ${end.rss.toFixed(1)} MiB, fds ${end.fds}, children ${end.children}, ${end.heap}`,
);
console.log(`after SIGTERM: exit ${code}, children left ${afterStop}`);
console.log(
  `snapshot ticks in the catalog: ${total} (${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}; ${skippedRecords} skipped records); unfinished records: ${unfinished}; ticks in the window ≈ ${expectedTicks} (+ ${policies} catch-ups at start)`,
);
const succeeded = outcomes.get("succeeded") ?? 0;
console.log(
  `succeeded runs per second: ${(succeeded / ((stoppedAt - soakBegan) / 1000)).toFixed(2)} (over ${((stoppedAt - soakBegan) / 60_000).toFixed(1)} min)`,
);
const window = (stoppedAt - start.at) / 1000;
const share = (seconds: number) =>
  `${seconds.toFixed(0)} s (${((seconds / window) * 100).toFixed(0)}% of a core)`;
console.log(
  `CPU over the last ${window.toFixed(0)} s: daemon ${share(cpuAtEnd.daemon.self - cpuAtStart.daemon.self)}, ` +
    `its children (restic) ${share(cpuAtEnd.daemon.children - cpuAtStart.daemon.children)} ` +
    `(system ${(cpuAtEnd.daemon.childrenSystem - cpuAtStart.daemon.childrenSystem).toFixed(0)} s), ` +
    `S3 server ${share(cpuAtEnd.s3 - cpuAtStart.s3)}`,
);
console.log(
  `the daemon's threads: ${[...cpuAtEnd.threads]
    .map(([name, t]) => [name, t - (cpuAtStart.threads.get(name) ?? 0)] as const)
    .filter(([, t]) => t >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([name, t]) => `${name} ${t.toFixed(0)} s`)
    .join(", ")}`,
);
console.log(
  `S3 requests per second over the same window: ${[...byKind]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / window).toFixed(1)}`)
    .join(", ")}`,
);
console.log(`errors logged: ${stderr.split("\n").filter((l) => l.includes('"level":50')).length}`);
if (existsSync(aside)) spawnSync("rm", ["-rf", aside]);
