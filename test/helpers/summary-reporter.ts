// One plain closing line, "N passed, N failed", that any CI log reader understands; and each file's duration in
// test-artifacts/test-times.json, which scripts/test-times.ts prints as a table.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Reporter, TestModule } from "vitest/node";

export interface FileTime {
  project: string;
  file: string;
  /** Tests and hooks of the file, in milliseconds. */
  ms: number;
  tests: number;
  failed: number;
}

export interface TestTimes {
  /** From vitest's start (global setup included) to the end of the last file, in milliseconds. */
  wallMs: number;
  files: FileTime[];
}

export const TIMES_FILE = path.resolve(import.meta.dirname, "../../test-artifacts/test-times.json");

export default class SummaryReporter implements Reporter {
  private readonly startedAt = Date.now();

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const files: FileTime[] = [];
    for (const m of modules) {
      let fileFailed = 0;
      let tests = 0;
      for (const t of m.children.allTests()) {
        tests++;
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") {
          failed++;
          fileFailed++;
        } else skipped++;
      }
      files.push({
        project: m.project.name,
        file: path.relative(process.cwd(), m.moduleId),
        ms: Math.round(m.diagnostic().duration),
        tests,
        failed: fileFailed,
      });
    }
    const times: TestTimes = { wallMs: Date.now() - this.startedAt, files };
    mkdirSync(path.dirname(TIMES_FILE), { recursive: true });
    writeFileSync(TIMES_FILE, `${JSON.stringify(times, null, 2)}\n`);
    process.stdout.write(
      `\nvitest: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`,
    );
  }
}
