// Where the suite's time goes: runs vitest (arguments passed on, e.g. `--project unit`) and prints each file's
// duration, slowest first, with the run's wall time. `--print FILE` prints a saved test-times.json instead;
// `--compare FILE` adds that earlier run's figures beside this one's.
//   npm run test:times                       the whole suite (needs what `npm test` needs)
//   npm run test:times -- --project unit     one tier
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";

interface FileTime {
  project: string;
  file: string;
  ms: number;
  tests: number;
  failed: number;
}
interface TestTimes {
  wallMs: number;
  files: FileTime[];
}

const root = path.resolve(import.meta.dirname, "..");
const timesFile = path.join(root, "test-artifacts/test-times.json");

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  if (!value) throw new Error(`${name} needs a file`);
  return value;
}

const read = (file: string): TestTimes => JSON.parse(readFileSync(file, "utf8")) as TestTimes;
const seconds = (ms: number | undefined): string => (ms === undefined ? "" : (ms / 1000).toFixed(1));

function table(times: TestTimes, before: TestTimes | undefined): string {
  const earlier = new Map(before?.files.map((f) => [f.file, f.ms]));
  const rows = [...times.files].sort((a, b) => b.ms - a.ms);
  const width = Math.max(...rows.map((r) => r.file.length), 4);
  const head = `${"file".padEnd(width)}  ${"tier".padEnd(11)}  tests  ${before ? "before s  " : ""}seconds`;
  const lines = rows.map(
    (r) =>
      `${r.file.padEnd(width)}  ${r.project.padEnd(11)}  ${String(r.tests).padStart(5)}  ${
        before ? `${seconds(earlier.get(r.file)).padStart(8)}  ` : ""
      }${seconds(r.ms).padStart(7)}${r.failed ? `  (${r.failed} failed)` : ""}`,
  );
  const sum = rows.reduce((s, r) => s + r.ms, 0);
  const beforeSum = before?.files.reduce((s, r) => s + r.ms, 0);
  return [
    head,
    ...lines,
    `${"sum of files".padEnd(width)}  ${"".padEnd(11)}  ${String(rows.reduce((s, r) => s + r.tests, 0)).padStart(5)}  ${
      before ? `${seconds(beforeSum).padStart(8)}  ` : ""
    }${seconds(sum).padStart(7)}`,
    `${"wall (vitest, with its setup)".padEnd(width)}  ${"".padEnd(11)}  ${"".padStart(5)}  ${
      before ? `${seconds(before.wallMs).padStart(8)}  ` : ""
    }${seconds(times.wallMs).padStart(7)}`,
  ].join("\n");
}

const args = process.argv.slice(2);
const printOnly = option(args, "--print");
const compare = option(args, "--compare");
const before = compare ? read(compare) : undefined;
if (printOnly) {
  process.stdout.write(`${table(read(printOnly), before)}\n`);
} else {
  const vitest = path.join(root, "node_modules/.bin/vitest");
  const run = spawnSync(vitest, ["run", ...args], { cwd: root, stdio: "inherit" });
  if (!existsSync(timesFile)) {
    process.stderr.write("vitest wrote no test-times.json: did it start at all? See its output above.\n");
    process.exit(run.status ?? 1);
  }
  // Kept beside the latest, so a later run can --compare against it.
  copyFileSync(timesFile, path.join(root, `test-artifacts/test-times-${Date.now()}.json`));
  process.stdout.write(`\n${table(read(timesFile), before)}\n`);
  process.exit(run.status ?? 1);
}
