// `lifeboat recover`, `drill` and `stage up`: a fresh machine from the runbook, the irreplaceable data restored onto
// it, the checks run, and a report in the catalog. A drill's machine is isolated and always removed at the end; a
// stage's is isolated and kept until `stage down` or its TTL.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { recordRun } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { compareRebuild, type Drift } from "../drift/compare.js";
import { type ErrorCode, isLifeboatError, LifeboatError } from "../errors.js";
import { mailReport } from "../mail/notify.js";
import type { Policy } from "../policy/load.js";
import { openProvider } from "../provider/open.js";
import type { ProvisionedHost } from "../provider/types.js";
import type { CheckResult, PhaseResult, RecoveryReport, StepResult } from "../report/schema.js";
import { type Runbook, renderTemplate, variablesIn } from "../runbook/load.js";
import { openTransport } from "../transport/open.js";
import { VERSION } from "../version.js";
import { runCheck } from "./checks.js";
import { planRecovery, type RecoveryPlan } from "./plan.js";
import { type RestoredData, restoreOntoHost } from "./restore.js";
import { runStep } from "./steps.js";

export type { RecoveryReport } from "../report/schema.js";

/** A stage is a drill that stays: a copy of the host from a changed runbook, removed by `stage down` or its TTL. */
export type Mode = "recovery" | "drill" | "stage";
export const PHASES = ["provision", "configure", "restore", "start", "verify"] as const;
export type PhaseName = (typeof PHASES)[number];

export type PhaseEvent =
  | { type: "plan"; plan: RecoveryPlan }
  | {
      type: "phase";
      phase: PhaseName | "teardown";
      status: "started" | "passed" | "failed" | "skipped";
      seconds?: number;
    }
  | { type: "step"; step: StepResult }
  | { type: "check"; check: CheckResult }
  | { type: "drift"; drift: Drift };

export interface RecoverOptions {
  config: LifeboatConfig;
  host: string;
  mode: Mode;
  snapshot?: string | undefined;
  dryRun?: boolean;
  /** Recovery over a machine that still exists: it is stopped and renamed (kept), then replaced. */
  replace?: boolean;
  /** Build the machine from its runbook without restoring data or running checks (a new host's first build). */
  noData?: boolean;
  /** Drill: keep the machine when the drill fails, for debugging. */
  keep?: boolean;
  /** A runbook other than the host's own (a stage of a changed one). */
  runbook?: Runbook | undefined;
  trigger?: "manual" | "schedule";
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: (event: PhaseEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export type RecoverResult =
  | { dryRun: true; plan: RecoveryPlan }
  | { dryRun: false; plan: RecoveryPlan; report: RecoveryReport };

/** The machine a recovery recreates: the runbook's container name, else the policy's container, else the host. */
function productionMachine(policy: Policy, runbook: Runbook): string {
  if (runbook.provider.kind === "container" && runbook.provider.name) return runbook.provider.name;
  if (policy.transport.kind === "container") return policy.transport.name;
  return policy.host;
}

const drillMachine = (host: string, runId: string): string => `${host}-drill-${runId}`;
const stageMachine = (host: string, runId: string): string => `${host}-stage-${runId}`;
/** The name of an isolated machine (drill, stage), or production's. */
const isolatedMachine = (mode: Mode, host: string, runId: string): string | undefined =>
  mode === "drill" ? drillMachine(host, runId) : mode === "stage" ? stageMachine(host, runId) : undefined;

/**
 * The md5 of every file the runbook renders from a template, as rendered for production; null for one that
 * uses {{runId}} (no two runs write it alike).
 */
async function renderedForProduction(
  runbook: Runbook,
  vars: Record<string, string>,
): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const step of runbook.steps) {
    if (step.kind !== "files" || !step.template) continue;
    for (const f of step.files) {
      const text = (await readFile(f.src)).toString("utf8");
      out.set(
        f.dest,
        variablesIn(text).includes("runId")
          ? null
          : createHash("md5")
              .update(renderTemplate(text, vars, f.src))
              .digest("hex"),
      );
    }
  }
  return out;
}

export async function recoverHost(options: RecoverOptions): Promise<RecoverResult> {
  const { mode } = options;
  const provisional = "<run id>";
  const planned = await planRecovery({
    config: options.config,
    host: options.host,
    mode,
    snapshot: options.snapshot,
    noData: options.noData,
    logger: options.logger,
    signal: options.signal,
    machine: (policy, runbook) =>
      isolatedMachine(mode, policy.host, provisional) ?? productionMachine(policy, runbook),
    runbook: options.runbook,
    describeProvider: (runbook, machine) => openProvider(runbook.provider).describe(machine),
  });
  const { policy, runbook } = planned;
  const provider = openProvider(runbook.provider);
  // A recovery never silently replaces a machine that still runs: it may hold newer data than the snapshot.
  const existing = mode === "recovery" && (await provider.exists(planned.plan.machine));
  if (existing && !options.replace) {
    throw new LifeboatError(
      "HOST_EXISTS",
      `${planned.plan.machine} still exists; a recovery would replace it`,
      {
        hint: `If it is broken, pass --replace: it is stopped and renamed (kept, nothing deleted), then rebuilt. To prove the recovery without touching it, run \`lifeboat drill --host ${policy.host}\`.`,
      },
    );
  }
  options.onEvent?.({ type: "plan", plan: planned.plan });
  if (options.dryRun) return { dryRun: true, plan: planned.plan };

  const catalog = catalogFor(options.config, policy.repository);
  let report: RecoveryReport | undefined;
  // The report is mailed whatever the verdict (a stage's goes to whoever staged it: the terminal); mail never
  // changes the outcome (it is kept and sent later).
  const mail = () =>
    report && mode !== "stage"
      ? mailReport(options.config, report, policy.notify, options.logger)
      : Promise.resolve("off");
  try {
    await recordRun(
      { catalog, host: policy.host, kind: mode, trigger: options.trigger, logger: options.logger },
      async (run) => {
        const plan = {
          ...planned.plan,
          machine: isolatedMachine(mode, policy.host, run.id) ?? planned.plan.machine,
        };
        report = await execute({
          ...options,
          plan,
          policy,
          runbook,
          runId: run.id,
          existing,
          startedAt: run.startedAt,
        });
        if (report.verdict === "failed") throw failureError(report);
        return report;
      },
      (r) => ({
        snapshotId: r.snapshot?.id,
        totalFiles: r.restored?.files,
        totalBytes: r.restored?.bytes,
        resticVersion: r.resticVersion,
        details: { report: r },
      }),
    );
  } finally {
    await mail();
  }
  if (!report) throw new LifeboatError("INTERNAL", "the recovery produced no report");
  return { dryRun: false, plan: planned.plan, report };
}

function withoutSentinel(r: RestoredData): Omit<RestoredData, "sentinel"> {
  const { sentinel: _, ...rest } = r;
  return rest;
}

function failureError(report: RecoveryReport): LifeboatError {
  const f = report.failure;
  const code = (f?.code ?? "STEP_FAILED") as ErrorCode;
  const what = report.mode;
  const where = f?.step ? `${f.phase}: ${f.step}` : (f?.phase ?? "unknown phase");
  return new LifeboatError(
    code,
    `${what} of ${report.host} failed in ${where}: ${f?.message ?? "unknown error"}`,
    {
      hint:
        report.cleanup === "kept"
          ? `The machine was kept for debugging: ${report.machine}. Remove it with: ${report.cleanupHint}`
          : f?.code === "CHECK_FAILED"
            ? "The data was restored but a check did not pass: fix the runbook's steps or the check, then drill again."
            : "Fix the step in the runbook (its output is in the report), then drill again.",
      details: { outcome: report },
    },
  );
}

interface ExecuteOptions extends RecoverOptions {
  plan: RecoveryPlan;
  policy: Policy;
  runbook: Runbook;
  runId: string;
  existing: boolean;
  startedAt: string;
}

async function execute(o: ExecuteOptions): Promise<RecoveryReport> {
  const { plan, policy, runbook, runId, mode } = o;
  const logger = o.logger?.child({ host: policy.host, run: runId, mode });
  const provider = openProvider(runbook.provider);
  const started = Date.parse(o.startedAt);
  const phases: PhaseResult[] = [];
  // Keyed by the runbook's step itself: two steps may carry the same name.
  const stepResults = new Map<Runbook["steps"][number], StepResult>();
  const checks: CheckResult[] = [];
  let failure: RecoveryReport["failure"];
  let restored: RestoredData | undefined;
  let machine: ProvisionedHost | undefined;
  let interruption: unknown;
  let drift: Drift | undefined;

  const phase = async (name: PhaseName, fn: () => Promise<boolean | "skipped">): Promise<void> => {
    if (failure || interruption) {
      phases.push({ name, status: "skipped", seconds: 0 });
      o.onEvent?.({ type: "phase", phase: name, status: "skipped" });
      return;
    }
    o.onEvent?.({ type: "phase", phase: name, status: "started" });
    const t = Date.now();
    let ok: boolean | "skipped" = false;
    try {
      ok = await fn();
    } catch (err) {
      if (o.signal?.aborted) {
        interruption = o.signal.reason ?? err;
        failure = { phase: name, code: "INTERRUPTED", message: "interrupted" };
      } else {
        const e = isLifeboatError(err) ? err : undefined;
        failure ??= { phase: name, code: e?.code ?? "INTERNAL", message: (err as Error).message };
      }
    }
    const seconds = (Date.now() - t) / 1000;
    const status = ok === "skipped" ? "skipped" : ok && !failure ? "passed" : "failed";
    phases.push({ name, status, seconds });
    o.onEvent?.({ type: "phase", phase: name, status, seconds });
  };

  const vars = (address: string): Record<string, string> => ({
    ...runbook.vars,
    host: policy.host,
    name: plan.machine,
    address,
    runId,
    mode,
  });

  const runSteps = async (list: Runbook["steps"]): Promise<boolean> => {
    if (!machine) return false;
    for (const step of list) {
      if (step.kind === "restore") continue;
      logger?.info({ step: step.name }, "step started");
      const result = await runStep(step, {
        transport: machine.transport,
        machine: { name: machine.name, ansibleVars: machine.ansibleVars },
        vars: vars(machine.address),
        signal: o.signal,
      });
      stepResults.set(step, result);
      o.onEvent?.({ type: "step", step: result });
      if (result.status === "failed") {
        failure = {
          phase: list === before ? "configure" : "start",
          step: step.name,
          code: "STEP_FAILED",
          message: result.error ?? "failed",
          exitCode: result.exitCode,
          outputTail: result.outputTail,
        };
        return false;
      }
    }
    return true;
  };
  const restoreAt = runbook.steps.findIndex((s) => s.kind === "restore");
  const before = runbook.steps.slice(0, restoreAt);
  const after = runbook.steps.slice(restoreAt + 1);
  const restoreStep = runbook.steps[restoreAt];

  try {
    await phase("provision", async () => {
      if (o.existing) {
        const aside = await provider.setAside(plan.machine);
        logger?.warn(
          { machine: plan.machine, keptAs: aside },
          "the old machine was stopped and renamed; remove it once the recovery is proven",
        );
      }
      machine = await provider.create({
        name: plan.machine,
        host: policy.host,
        runId,
        mode,
        signal: o.signal,
      });
      logger?.info({ machine: machine.name, address: machine.address }, "machine provisioned");
      return true;
    });
    await phase("configure", () => runSteps(before));
    // A drill compares what the code rebuilt with production before any data goes back.
    if (mode === "drill" && machine && !failure && !interruption) {
      const rebuilt = machine.transport;
      try {
        drift = await compareRebuild({
          policy,
          production: () => openTransport(policy.host, policy.transport),
          rebuilt,
          expectedInProduction: async (production) =>
            renderedForProduction(runbook, {
              ...runbook.vars,
              host: policy.host,
              name: productionMachine(policy, runbook),
              address: await production.address(),
              mode: "recovery",
            }),
          signal: o.signal,
          logger,
        });
        o.onEvent?.({ type: "drift", drift });
      } catch (err) {
        if (!o.signal?.aborted) throw err;
        interruption = o.signal.reason ?? err;
        failure = { phase: "configure", code: "INTERRUPTED", message: "interrupted" };
      }
    }
    await phase("restore", async () => {
      if (!machine) return false;
      if (o.noData) return "skipped";
      const t = Date.now();
      const restoreResult = (status: "passed" | "failed", error?: string) => {
        if (restoreStep)
          stepResults.set(restoreStep, {
            name: restoreStep.name,
            kind: "restore",
            status,
            seconds: (Date.now() - t) / 1000,
            ...(error ? { error } : {}),
          });
      };
      try {
        restored = await restoreOntoHost({
          config: o.config,
          policy,
          plan,
          transport: machine.transport,
          timeoutSeconds: restoreStep?.timeoutSeconds ?? 6 * 3600,
          logger,
          signal: o.signal,
        });
        restoreResult("passed");
        return true;
      } catch (err) {
        if (o.signal?.aborted) throw err;
        const e = isLifeboatError(err) ? err : undefined;
        restoreResult("failed", (err as Error).message);
        failure = {
          phase: "restore",
          step: restoreStep?.name ?? "restore",
          code: e?.code ?? "INTERNAL",
          message: (err as Error).message,
        };
        return false;
      }
    });
    await phase("start", () => runSteps(after));
    await phase("verify", async () => {
      if (!machine) return false;
      // A stage runs its checks with or without data: they are what the change is tried against.
      if (o.noData && mode !== "stage") return "skipped";
      for (const check of runbook.checks) {
        const result = await runCheck(check, {
          transport: machine.transport,
          address: machine.address,
          vars: vars(machine.address),
          signal: o.signal,
          env: o.env,
        });
        checks.push(result);
        o.onEvent?.({ type: "check", check: result });
      }
      const failed = checks.filter((c) => c.status === "failed");
      if (failed[0]) {
        failure = {
          phase: "verify",
          step: failed[0].name,
          code: "CHECK_FAILED",
          message: `${failed.length} of ${checks.length} check(s) failed; first: ${failed[0].name}: ${failed[0].detail}`,
        };
        return false;
      }
      return true;
    });
  } finally {
    // Checks never reached are listed as skipped (results come in runbook order), so the report shows all.
    for (const [i, check] of runbook.checks.entries())
      if (!checks[i])
        checks.push({
          name: check.name,
          kind: check.kind,
          status: "skipped",
          attempts: 0,
          seconds: 0,
          detail: "not run",
        });
  }
  // The drift comparison is the drill's own work, not part of bringing the host back.
  const rtoSeconds = (Date.now() - started) / 1000 - (drift?.seconds ?? 0);

  // Teardown: a drill's machine always goes, unless a failed drill is kept on request.
  let cleanup: RecoveryReport["cleanup"] = "not needed";
  let cleanupHint: string | undefined;
  const current = machine as ProvisionedHost | undefined;
  if (mode === "drill" && current) {
    const t = Date.now();
    o.onEvent?.({ type: "phase", phase: "teardown", status: "started" });
    if (failure && o.keep) {
      cleanup = "kept";
      cleanupHint = current.removeHint;
    } else {
      try {
        await current.destroy();
        cleanup = "removed";
      } catch (err) {
        cleanup = "failed";
        cleanupHint = current.removeHint;
        logger?.error(
          { error: (err as Error).message, remove: current.removeHint },
          "could not remove the drill machine",
        );
      }
    }
    const seconds = (Date.now() - t) / 1000;
    phases.push({ name: "teardown", status: cleanup === "failed" ? "failed" : "passed", seconds });
    o.onEvent?.({
      type: "phase",
      phase: "teardown",
      status: cleanup === "failed" ? "failed" : "passed",
      seconds,
    });
  }

  const sentinelAge = restored?.sentinel
    ? (started - Date.parse(restored.sentinel.writtenAt)) / 1000
    : undefined;
  const snapshotAge = plan.snapshot ? (started - Date.parse(plan.snapshot.time)) / 1000 : undefined;
  const age = sentinelAge ?? snapshotAge;
  const report: RecoveryReport = {
    version: 1,
    runId,
    mode,
    trigger: o.trigger ?? "manual",
    host: policy.host,
    verdict: failure ? "failed" : "passed",
    withData: !o.noData,
    startedAt: o.startedAt,
    finishedAt: new Date().toISOString(),
    machine: plan.machine,
    address: current?.address,
    provider: plan.provider.replace("<run id>", runId),
    snapshot: plan.snapshot,
    dumps: plan.dumps,
    rpo: {
      targetSeconds: policy.rpoSeconds,
      snapshotAgeSeconds: snapshotAge,
      sentinelAgeSeconds: sentinelAge,
      sentinelRunId: restored?.sentinel?.runId,
      met: age === undefined ? undefined : age <= policy.rpoSeconds,
    },
    rto: {
      targetSeconds: runbook.rtoSeconds,
      seconds: rtoSeconds,
      met: runbook.rtoSeconds === undefined ? undefined : rtoSeconds <= runbook.rtoSeconds,
    },
    phases,
    // Steps never reached are listed as skipped, so the report shows the whole runbook.
    steps: runbook.steps.map(
      (s) => stepResults.get(s) ?? { name: s.name, kind: s.kind, status: "skipped", seconds: 0 },
    ),
    checks,
    restored: restored ? withoutSentinel(restored) : undefined,
    failure,
    drift,
    cleanup,
    cleanupHint,
    resticVersion: restored?.resticVersion ?? plan.resticVersion,
    lifeboatVersion: VERSION,
  };
  if (interruption) {
    throw isLifeboatError(interruption)
      ? new LifeboatError(interruption.code, interruption.message, {
          hint: interruption.hint,
          details: { outcome: report },
        })
      : new LifeboatError("INTERRUPTED", "interrupted", { details: { outcome: report } });
  }
  return report;
}
