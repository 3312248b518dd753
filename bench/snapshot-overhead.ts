// bench/snapshot-overhead: `lifeboat snapshot` against raw `restic backup` of the same paths, alternating in
// one run (ABBA order, so drift and cache warmth fall on both alike). Prints medians and their ratio.
//   npm run bench:snapshot-overhead        (BENCH_DIR, BENCH_FILES, BENCH_FILE_KIB, BENCH_PAIRS_FULL, BENCH_PAIRS_UNCHANGED)
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { median, writeBenchData } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench";
const files = Number(process.env.BENCH_FILES ?? 10_000);
const fileKib = Number(process.env.BENCH_FILE_KIB ?? 100);
const pairsFull = Number(process.env.BENCH_PAIRS_FULL ?? 9);
const pairsUnchanged = Number(process.env.BENCH_PAIRS_UNCHANGED ?? 15);

const data = path.join(dir, "data", "uploads");
const keyFile = path.join(dir, "key");
const repo = path.join(dir, "repos", "bench");
const config = path.join(dir, "lifeboat.yaml");
const node = path.join(root, "node_modules", ".bin", "node");

function prepare(): void {
  writeBenchData(data, files, fileKib);
  if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
  mkdirSync(path.join(dir, "policies"), { recursive: true });
  writeFileSync(
    config,
    `policies: policies\ntargets:\n  bench: { type: local, path: ${path.dirname(repo)}, passwordFile: ${keyFile} }\n`,
  );
  writeFileSync(path.join(dir, "policies", "bench.yaml"), `host: bench\nirreplaceable: [${data}]\n`);
}

const resticEnv = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: keyFile };

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = resticEnv): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return seconds;
}

// --no-prune: raw `restic backup` applies no retention either, so like is compared with like.
const lifeboat = () =>
  run(node, [
    path.join(root, "bin", "lifeboat.js"),
    "--quiet",
    "--config",
    config,
    "snapshot",
    "--host",
    "bench",
    "--no-prune",
  ]);
const restic = () => run("restic", ["backup", "-q", "--host", "bench", "--tag", "lifeboat,host:bench", data]);
const freshRepository = () => {
  rmSync(repo, { recursive: true, force: true });
  run("restic", ["init"]);
};

function alternate(pairs: number, before: () => void): { lifeboat: number[]; restic: number[] } {
  const out = { lifeboat: [] as number[], restic: [] as number[] };
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? (["lifeboat", "restic"] as const) : (["restic", "lifeboat"] as const);
    for (const which of order) {
      before();
      out[which].push(which === "lifeboat" ? lifeboat() : restic());
      process.stderr.write(".");
    }
  }
  process.stderr.write("\n");
  return out;
}

prepare();
const resticVersion = spawnSync("restic", ["version"]).stdout.toString().trim();
const nodeVersion = spawnSync(node, ["--version"]).stdout.toString().trim();
const gib = (files * fileKib) / 1024 / 1024;

// Full: every run backs up all data into a new, empty repository (init is not timed).
const full = alternate(pairsFull, freshRepository);
// Unchanged: the nightly case for data that did not change; restic reads only metadata.
freshRepository();
restic();
const unchanged = alternate(pairsUnchanged, () => {});
const startup = [] as number[];
for (let i = 0; i < 9; i++) startup.push(run(node, [path.join(root, "bin", "lifeboat.js"), "--version"]));

const rows = [
  [`full backup, ${gib.toFixed(2)} GiB in ${files} files`, full],
  [`unchanged data, ${files} files`, unchanged],
] as const;
console.log(
  `snapshot-overhead: ${resticVersion}; node ${nodeVersion}; ${spawnSync("nproc").stdout.toString().trim()} cores`,
);
console.log("scenario                                   runs  lifeboat  restic    ratio   lifeboat-restic");
for (const [name, r] of rows) {
  const l = median(r.lifeboat);
  const x = median(r.restic);
  console.log(
    `${name.padEnd(42)} ${String(r.lifeboat.length).padStart(4)}  ${l.toFixed(3).padStart(7)}s ${x.toFixed(3).padStart(7)}s  ${(l / x).toFixed(3)}   ${(l - x >= 0 ? "+" : "") + (l - x).toFixed(3)}s`,
  );
}
console.log(
  `lifeboat --version (node start-up and module loading alone): median ${median(startup).toFixed(3)}s`,
);
console.log(
  `fixed start-up cost (median difference on unchanged data): ${(median(unchanged.lifeboat) - median(unchanged.restic)).toFixed(3)}s`,
);
