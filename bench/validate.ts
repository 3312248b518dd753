// bench/validate: `lifeboat validate` of one policy with N classified entries (nested three deep, all three
// classes), against the floor: `lifeboat --version` (start-up) plus parsing the same YAML file with the yaml
// library alone. Shows how validation grows with N; beyond the limit (10,000 per class) it is a quick refusal.
//   npm run bench:validate     (BENCH_SIZES=1000,10000,30000, BENCH_RUNS=3)
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import { benchNode, median } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = "/var/tmp/lifeboat-bench-validate";
const sizes = (process.env.BENCH_SIZES ?? "1000,10000,30000").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const cli = path.join(root, "bin/lifeboat.js");

/** A policy with n entries: irreplaceable /srv/a<i>, rebuildable /srv/a<i>/cache, ignored .../cache/tmp. */
function writePolicy(n: number): string {
  const third = Math.ceil(n / 3);
  const list = (f: (i: number) => string) =>
    Array.from({ length: third }, (_, i) => `  - ${f(i)}`).join("\n");
  const file = path.join(dir, "policies", "web1.yaml");
  writeFileSync(
    file,
    `host: web1\nirreplaceable:\n${list((i) => `/srv/a${i}`)}\nrebuildable:\n${list((i) => `/srv/a${i}/cache`)}\nignored:\n${list((i) => `/srv/a${i}/cache/tmp`)}\n`,
  );
  return file;
}

function seconds(args: string[]): { seconds: number; status: number | null } {
  const start = process.hrtime.bigint();
  const r = spawnSync(benchNode, [cli, ...args], {
    env: {
      ...process.env,
      LIFEBOAT_HOME: path.join(dir, "home"),
      LIFEBOAT_CONFIG: path.join(dir, "lifeboat.yaml"),
    },
    stdio: ["ignore", "ignore", "ignore"],
  });
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, status: r.status };
}

rmSync(dir, { recursive: true, force: true });
mkdirSync(path.join(dir, "policies"), { recursive: true });
writeFileSync(path.join(dir, "lifeboat.yaml"), "targets:\n  primary: { type: local }\n");
const startup = median(Array.from({ length: runs }, () => seconds(["--version"]).seconds));
console.log(`start-up (lifeboat --version): ${startup.toFixed(3)} s`);
console.log("entries  bytes      yaml parse  validate  exit  (validate - start-up - parse)");
for (const n of sizes) {
  const file = writePolicy(n);
  const text = readFileSync(file, "utf8");
  const parse = median(
    Array.from({ length: runs }, () => {
      const start = process.hrtime.bigint();
      parseDocument(text).toJS();
      return Number(process.hrtime.bigint() - start) / 1e9;
    }),
  );
  const results = Array.from({ length: runs }, () => seconds(["validate"]));
  const validate = median(results.map((r) => r.seconds));
  console.log(
    `${String(n).padEnd(8)} ${String(text.length).padEnd(10)} ${parse.toFixed(3).padStart(9)} s ${validate.toFixed(3).padStart(7)} s  ${String(results[0]?.status).padEnd(4)}  ${(validate - startup - parse).toFixed(3)} s`,
  );
}
