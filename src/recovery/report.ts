// The report of a recovery, drill or stage, built in one place from what its phases did; and the error a failed
// one ends with, which carries the report typed.
import { isErrorCode, isLifeboatError, RunFailed } from "../errors.js";
import { describeItem } from "../report/render.js";
import { REPORT_VERSION, type RecoveryReport, type RpoItem } from "../report/schema.js";
import { formatDuration } from "../util/duration.js";
import { VERSION } from "../version.js";
import type { RunContext } from "./context.js";
import type { Executed } from "./execute.js";
import { isolationOf } from "./isolation.js";
import type { RestoredData } from "./restore.js";
import { rpoItems } from "./rpo.js";

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
  const items = rpoItems(plan, policy, done.restored, started);
  const oldest = items[0];
  const sentinels = items.filter((i) => i.source === "sentinel");
  const snapshotAge = plan.snapshot ? (started - Date.parse(plan.snapshot.time)) / 1000 : undefined;
  const age = oldest?.ageSeconds ?? (done.restored ? snapshotAge : undefined);
  const met = age === undefined ? undefined : age <= policy.rpoSeconds;
  const verdict = judge(ctx, done, met === false ? oldest : undefined);
  return {
    version: REPORT_VERSION,
    runId: ctx.runId,
    mode: ctx.mode,
    trigger: ctx.trigger,
    host: policy.host,
    verdict: verdict.failure ? "failed" : verdict.warnings.length ? "passed-with-warnings" : "passed",
    warnings: verdict.warnings,
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
      // The oldest sentinel: the data's own word on its age.
      sentinelAgeSeconds: sentinels[0]?.ageSeconds,
      sentinelRunId: sentinels[0]?.runId,
      met,
      items,
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
    restored: done.restored ? withoutSentinels(done.restored) : undefined,
    failure: verdict.failure,
    drift: done.drift,
    isolation: isolationOf(ctx.mode, runbook, done.machine),
    build: {
      from: ctx.build.from,
      digest: ctx.build.digest,
      image: ctx.build.image?.ref,
      why: ctx.build.why,
      otherRto: ctx.otherRto,
    },
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
      hint: `${f.hint ?? "See the report for what failed."}${
        report.cleanup === "kept"
          ? ` The machine was kept for debugging: ${report.machine}. Remove it with: ${report.cleanupHint}`
          : ""
      }`,
    },
  );
}

function withoutSentinels({ sentinels: _, ...rest }: RestoredData): Omit<RestoredData, "sentinels"> {
  return rest;
}

/**
 * The verdict's failure and warnings: the phases' first failure; else an RPO breach, which fails a drill or a
 * stage (it proved an older restore point than the policy promises) and is a warning on a recovery (the host is back
 * with the newest data there was).
 */
function judge(
  ctx: RunContext,
  done: Executed,
  breach: RpoItem | undefined,
): { failure: RecoveryReport["failure"]; warnings: RecoveryReport["warnings"] } {
  const warnings: RecoveryReport["warnings"] = [];
  const unmade = done.drift?.compared ? done.drift.files.onlyProduction : [];
  if (unmade.length) {
    const n = done.drift?.files.counts.onlyProduction ?? unmade.length;
    warnings.push({
      code: "DRIFT_UNMADE_STATE",
      message:
        `${n} file(s) in production's rebuildable paths that the runbook does not make: ${unmade.slice(0, 5).join(", ")}` +
        `${n > 5 ? ", …" : ""}. A rebuild would lose them: make them in the runbook, classify them (irreplaceable or ` +
        "ignored), or list them under the policy's drift.expected.",
    });
  }
  if (ctx.mode !== "recovery" && !ctx.runbook.drillIsolation)
    warnings.push({
      code: "ISOLATION_NOT_ENFORCED",
      message: `the runbook turned network isolation off: this ${ctx.mode} machine could reach production and the network`,
    });
  if (done.failure) return { failure: done.failure, warnings };
  if (!breach) return { failure: undefined, warnings };
  const message = `RPO ${formatDuration(breach.ageSeconds)}/${formatDuration(ctx.policy.rpoSeconds)} breached (${describeItem(breach)})`;
  const hint = breach.runsAgo
    ? `Its newer dumps failed: see \`lifeboat status --host ${ctx.policy.host}\` and the snapshot runs' errors, fix the dump, then snapshot again.`
    : `The newest snapshot is older than the policy's RPO: check that snapshots run (\`lifeboat status\`, the daemon's schedule), then drill again.`;
  if (ctx.mode === "recovery")
    return { failure: undefined, warnings: [...warnings, { code: "RPO_BREACHED", message }] };
  return { failure: { phase: "restore", step: "RPO", code: "RPO_BREACHED", message, hint }, warnings };
}
