// bench/audit: `lifeboat audit` of a container host holding BENCH_FILES unclassified files (the worst case: none
// of them is pruned, every one is listed, grouped and reported), against the floor: the same `find` over the same
// places through the same `podman exec`, its output read here and thrown away. Alternating ABBA, medians.
//   npm run bench:audit     (BENCH_FILES=200000, BENCH_PAIRS=3, BENCH_DIR)
// Needs the test fleet's services image (npm test builds it) and podman.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { scanArgv } from "../src/audit/find-args.ts";
import { benchNode, median, timed } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-audit";
const files = Number(process.env.BENCH_FILES ?? 200_000);
const pairs = Number(process.env.BENCH_PAIRS ?? 3);
const image = "lifeboat-test-db:bookworm-4";
const container = "lifeboat-bench-audit";

if (spawnSync("podman", ["image", "exists", image]).status !== 0) {
  console.error(
    `podman image ${image} is missing: run \`npm test\` once (its setup builds the test fleet's images).`,
  );
  process.exit(2);
}
const podman = (...args: string[]) => execFileSync("podman", args, { stdio: ["ignore", "pipe", "inherit"] });

rmSync(dir, { recursive: true, force: true });
mkdirSync(path.join(dir, "policies"), { recursive: true });
spawnSync("podman", ["rm", "-f", "--time", "0", container]);
podman(
  "run",
  "-d",
  "--name",
  container,
  ...["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"],
  image,
  "sleep",
  "infinity",
);
// 1000 directories of `files / 1000` empty files under /var/lib/bulk: metadata is all the audit reads of them.
const perDir = Math.ceil(files / 1000);
podman(
  "exec",
  container,
  "bash",
  "-c",
  `mkdir -p /var/lib/bulk && cd /var/lib/bulk && for d in $(seq 1 1000); do mkdir d$d && (cd d$d && touch f{1..${perDir}}); done`,
);
writeFileSync(
  path.join(dir, "lifeboat.yaml"),
  `targets:\n  offsite: { type: s3, endpoint: "https://127.0.0.1:9", bucket: lifeboat, pathStyle: true }\ndefaults:\n  repository: offsite\n`,
);
writeFileSync(
  path.join(dir, "policies", "bulk.yaml"),
  `host: bulk\ntransport: { container: ${container} }\nirreplaceable: [/srv/app]\n`,
);
const env = {
  ...process.env,
  LIFEBOAT_CONFIG: path.join(dir, "lifeboat.yaml"),
  LIFEBOAT_HOME: path.join(dir, "home"),
};

// The audit exits 9 (it finds the bulk): once for its answer, then timed by exit status 9.
const first = spawnSync(
  benchNode,
  [path.join(root, "bin/lifeboat.js"), "--json", "audit", "--host", "bulk", "--no-record"],
  {
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  },
);
const result = JSON.parse(first.stdout).result as {
  scanned: number;
  verified: number;
  groups: Array<{ path: string; files: number }>;
  roots: string[];
};
// The floor: find over the same places, printing the same fields, read by this machine.
const find = () => timed("podman", ["exec", container, ...scanArgv(result.roots, [])], env);

const auditSeconds = (): number => {
  const start = process.hrtime.bigint();
  const r = spawnSync(
    benchNode,
    [path.join(root, "bin/lifeboat.js"), "--quiet", "audit", "--host", "bulk", "--no-record"],
    {
      env,
      stdio: "ignore",
    },
  );
  if (r.status !== 9) throw new Error(`audit exited ${r.status}`);
  return Number(process.hrtime.bigint() - start) / 1e9;
};

const a: number[] = [];
const f: number[] = [];
for (let i = 0; i < pairs; i++) {
  if (i % 2 === 0) {
    a.push(auditSeconds());
    f.push(find());
  } else {
    f.push(find());
    a.push(auditSeconds());
  }
}
spawnSync("podman", ["rm", "-f", "--time", "0", container]);

console.log(
  `audit of a container host with ${files} unclassified files in 1000 directories (+ the services image), ${pairs} pairs ABBA`,
);
console.log(
  `lifeboat audit: median ${median(a).toFixed(2)} s (${a.map((x) => x.toFixed(2)).join(", ")}); ${result.scanned} files looked at, ${result.verified} package files compared, ${result.groups.length} groups, /var/lib/bulk ${result.groups.find((g) => g.path === "/var/lib/bulk")?.files ?? 0} files`,
);
console.log(`find (floor):   median ${median(f).toFixed(2)} s (${f.map((x) => x.toFixed(2)).join(", ")})`);
console.log(`audit / find:   ${(median(a) / median(f)).toFixed(2)}x`);
