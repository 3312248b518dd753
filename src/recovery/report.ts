// The report of a recovery, drill or stage, built in one place from what its phases did; and the error a failed
// one ends with, which carries the report typed.
import { isErrorCode, isLifeboatError, RunFailed } from "../errors.js";
import type { RecoveryReport } from "../report/schema.js";
import { VERSION } from "../version.js";
import type { RunContext } from "./context.js";
import type { Executed } from "./execute.js";
import type { RestoredData } from "./restore.js";

/** A recovery, drill or stage that ended failed or interrupted, with its report. */
export class RecoveryFailed extends RunFailed<RecoveryReport> {}

export const isRecoveryFailed = (err: unknown): err is RecoveryFailed => err instanceof RecoveryFailed;

/** The report a failed run's error carries, if it is one. */
export const failedReport = (err: unknown): RecoveryReport | undefined =>
  isRecoveryFailed(err) ? err.result : undefined;

export function buildReport(ctx: RunContext, startedAt: string, done: Executed): RecoveryReport {
  const { plan, policy, runbook } = ctx;
  const started = Date.parse(startedAt);
  // The drift comparison is the drill's own work, not part of bringing the host back.
  const rtoSeconds = (done.recoveredAt - started) / 1000 - (done.drift?.seconds ?? 0);
  const sentinel = done.restored?.sentinel;
  const sentinelAge = sentinel ? (started - Date.parse(sentinel.writtenAt)) / 1000 : undefined;
  const snapshotAge = plan.snapshot ? (started - Date.parse(plan.snapshot.time)) / 1000 : undefined;
  const age = sentinelAge ?? snapshotAge;
  return {
    version: 1,
    runId: ctx.runId,
    mode: ctx.mode,
    trigger: ctx.trigger,
    host: policy.host,
    verdict: done.failure ? "failed" : "passed",
    withData: !ctx.noData,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: plan.machine,
    address: done.machine?.address,
    provider: plan.provider,
    snapshot: plan.snapshot,
    dumps: plan.dumps,
    rpo: {
      targetSeconds: policy.rpoSeconds,
      snapshotAgeSeconds: snapshotAge,
      sentinelAgeSeconds: sentinelAge,
      sentinelRunId: sentinel?.runId,
      met: age === undefined ? undefined : age <= policy.rpoSeconds,
    },
    rto: {
      targetSeconds: runbook.rtoSeconds,
      seconds: rtoSeconds,
      met: runbook.rtoSeconds === undefined ? undefined : rtoSeconds <= runbook.rtoSeconds,
    },
    phases: done.phases.map(({ name, status, seconds }) => ({ name, status, seconds })),
    // Steps and checks never reached are listed as skipped, so the report shows the whole runbook.
    steps: runbook.steps.map(
      (s) => done.steps.get(s) ?? { name: s.name, kind: s.kind, status: "skipped", seconds: 0 },
    ),
    checks: runbook.checks.map(
      (c, i) =>
        done.checks[i] ?? {
          name: c.name,
          kind: c.kind,
          status: "skipped",
          attempts: 0,
          seconds: 0,
          detail: "not run",
        },
    ),
    restored: done.restored ? withoutSentinel(done.restored) : undefined,
    failure: done.failure,
    drift: done.drift,
    cleanup: done.teardown.cleanup,
    cleanupHint: done.teardown.cleanupHint,
    resticVersion: done.restored?.resticVersion ?? plan.resticVersion,
    lifeboatVersion: VERSION,
  };
}

/** The error a run ends with: undefined when it passed; its interruption's, else its first failure's. */
export function runError(report: RecoveryReport, interruption: unknown): RecoveryFailed | undefined {
  if (interruption !== undefined) {
    return isLifeboatError(interruption)
      ? new RecoveryFailed(interruption.code, interruption.message, report, { hint: interruption.hint })
      : new RecoveryFailed("INTERRUPTED", "interrupted", report);
  }
  const f = report.failure;
  if (!f) return undefined;
  const where = f.step ? `${f.phase}: ${f.step}` : f.phase;
  const code = isErrorCode(f.code) ? f.code : "STEP_FAILED";
  return new RecoveryFailed(
    code,
    `${report.mode} of ${report.host} failed in ${where}: ${f.message}`,
    report,
    {
      hint:
        report.cleanup === "kept"
          ? `The machine was kept for debugging: ${report.machine}. Remove it with: ${report.cleanupHint}`
          : f.code === "CHECK_FAILED"
            ? "The data was restored but a check did not pass: fix the runbook's steps or the check, then drill again."
            : "Fix the step in the runbook (its output is in the report), then drill again.",
    },
  );
}

function withoutSentinel({ sentinel: _, ...rest }: RestoredData): Omit<RestoredData, "sentinel"> {
  return rest;
}
