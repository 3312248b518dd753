// The phases of one recovery, drill or stage, each a function from the run's context to its outcome, in order:
// provision → configure → (a drill's drift comparison) → restore → start → verify → teardown (a drill's, always).
import { bakedSteps } from "../bake/digest.js";
import type { Drift } from "../drift/compare.js";
import { isLifeboatError } from "../errors.js";
import type { ProvisionedHost } from "../provider/types.js";
import type { CheckResult, RecoveryReport, StepResult } from "../report/schema.js";
import type { Runbook, Step } from "../runbook/load.js";
import { runCheck } from "./checks.js";
import type { RunContext } from "./context.js";
import { compareWithProduction } from "./drift.js";
import { templateVariables } from "./machine.js";
import { type PhaseOutcome, type PhaseRecord, PhaseRunner } from "./phases.js";
import { refuseProductionDestination, refuseProductionMachine } from "./production-guard.js";
import { type RestoredData, restoreOntoHost } from "./restore.js";
import { runStep } from "./steps.js";

export interface Teardown {
  cleanup: RecoveryReport["cleanup"];
  cleanupHint: string | undefined;
}

/** What the phases did, for the report. */
export interface Executed {
  phases: Array<PhaseRecord<unknown>>;
  failure: RecoveryReport["failure"];
  /** The abort reason when the run was interrupted. */
  interruption: unknown;
  machine: ProvisionedHost | undefined;
  /** Keyed by the runbook's step itself: two steps may carry the same name. */
  steps: Map<Step, StepResult>;
  restored: RestoredData | undefined;
  checks: CheckResult[];
  drift: Drift | undefined;
  /** When the host was back (verify ended): the RTO stops here, before any teardown. */
  recoveredAt: number;
  teardown: Teardown;
}

export async function execute(ctx: RunContext): Promise<Executed> {
  const runner = new PhaseRunner(ctx.signal, ctx.onEvent);
  const restoreAt = ctx.runbook.steps.findIndex((s) => s.kind === "restore");
  // A machine from a baked image has the steps before `restore` done, but those made for each machine (templates).
  const baked = new Set(ctx.build.from === "image" ? bakedSteps(ctx.runbook) : []);
  const before = ctx.runbook.steps.slice(0, restoreAt).filter((s) => !baked.has(s));
  const after = ctx.runbook.steps.slice(restoreAt + 1);

  const machine = (await runner.run("provision", () => provision(ctx))).value;
  const configured = await runner.run("configure", () => runSteps(ctx, machine, before));
  // A drill compares what the code rebuilt with production before any data goes back.
  const drift =
    ctx.mode === "drill" && machine
      ? await runner.between("configure", () => compareWithProduction(ctx, machine))
      : undefined;
  const restore = await runner.run("restore", () => restoreData(ctx, machine, ctx.runbook.steps[restoreAt]));
  const started = await runner.run("start", () => runSteps(ctx, machine, after));
  const verified = await runner.run("verify", () => verify(ctx, machine));
  const recoveredAt = Date.now();
  const teardown = await tearDown(ctx, runner, machine);

  const fromImage = `in the baked image ${ctx.build.digest ?? ""}`.trim();
  const steps = new Map<Step, StepResult>([
    ...[...baked].map((s): [Step, StepResult] => [
      s,
      { name: s.name, kind: s.kind, status: "skipped", seconds: 0, detail: fromImage },
    ]),
    ...(configured.value ?? []),
    ...(restore.value?.step ?? []),
    ...(started.value ?? []),
  ]);
  return {
    phases: runner.records,
    failure: runner.failure,
    interruption: runner.interruption,
    machine,
    steps,
    restored: restore.value?.restored,
    checks: verified.value ?? [],
    drift,
    recoveredAt,
    teardown,
  };
}

async function provision(ctx: RunContext): Promise<PhaseOutcome<ProvisionedHost | undefined>> {
  const { plan, policy, provider } = ctx;
  const isolated = ctx.mode !== "recovery";
  if (isolated) refuseProductionDestination(policy, ctx.runbook.provider);
  if (ctx.replacing && provider.setAside) {
    const aside = await provider.setAside(plan.machine);
    ctx.logger?.warn(
      { machine: plan.machine, keptAs: aside },
      "the old machine was stopped and renamed; remove it once the recovery is proven",
    );
  }
  const machine = await provider.create({
    name: plan.machine,
    host: policy.host,
    runId: ctx.runId,
    mode: ctx.mode,
    signal: ctx.signal,
    isolation: ctx.isolation,
    image: ctx.build.image?.ref,
  });
  ctx.logger?.info({ machine: machine.name, address: machine.address }, "machine provisioned");
  if (isolated) {
    try {
      await refuseProductionMachine(policy, ctx.runbook.provider, machine, ctx.signal);
    } catch (err) {
      // Production itself: nothing runs on it, and it is never destroyed (the machine is not handed on).
      if (isLifeboatError(err) && err.code === "DRILL_NOT_ISOLATED")
        return {
          status: "failed",
          value: undefined,
          failure: { code: err.code, message: err.message, hint: err.hint },
        };
      await machine.destroy().catch(() => {});
      throw err;
    }
  }
  return { status: "passed", value: machine };
}

const variablesOf = (ctx: RunContext, machine: ProvisionedHost) =>
  templateVariables(ctx.runbook, {
    host: ctx.policy.host,
    name: ctx.plan.machine,
    address: machine.address,
    runId: ctx.runId,
    mode: ctx.mode,
  });

/** Each step that ran, with its result. */
type StepResults = Array<[Step, StepResult]>;

/** The steps of one side of `restore`, in order, until one fails. */
async function runSteps(
  ctx: RunContext,
  machine: ProvisionedHost | undefined,
  list: Runbook["steps"],
): Promise<PhaseOutcome<StepResults>> {
  const results: StepResults = [];
  if (!machine) return { status: "skipped", value: results };
  const vars = variablesOf(ctx, machine);
  // What the runbook allows (the package mirror) is reachable while steps run, and only then.
  await machine.isolation?.openSteps();
  try {
    return await stepsOn(ctx, machine, list, vars, results);
  } finally {
    await machine.isolation?.closeSteps();
  }
}

async function stepsOn(
  ctx: RunContext,
  machine: ProvisionedHost,
  list: Runbook["steps"],
  vars: Record<string, string>,
  results: StepResults,
): Promise<PhaseOutcome<StepResults>> {
  for (const step of list) {
    if (step.kind === "restore") continue;
    ctx.logger?.info({ step: step.name }, "step started");
    const result = await runStep(step, {
      transport: machine.transport,
      machine: { name: machine.name, ansibleVars: machine.ansibleVars },
      vars,
      signal: ctx.signal,
    });
    results.push([step, result]);
    ctx.onEvent?.({ type: "step", step: result });
    if (result.status === "failed") {
      return {
        status: "failed",
        value: results,
        failure: {
          step: step.name,
          code: "STEP_FAILED",
          message: result.error ?? "failed",
          exitCode: result.exitCode,
          outputTail: result.outputTail,
          hint: "Fix the step in the runbook (its output is in the report), then drill again.",
        },
      };
    }
  }
  return { status: "passed", value: results };
}

async function restoreData(
  ctx: RunContext,
  machine: ProvisionedHost | undefined,
  step: Step | undefined,
): Promise<PhaseOutcome<{ restored?: RestoredData; step?: StepResults }>> {
  if (!machine || ctx.noData) return { status: "skipped", value: {} };
  const started = Date.now();
  const name = step?.name ?? "restore";
  // The restore step's own line in the report (a runbook without one restores after its last step).
  const result = (status: "passed" | "failed", error?: string): StepResults =>
    step
      ? [
          [
            step,
            {
              name,
              kind: "restore",
              status,
              seconds: (Date.now() - started) / 1000,
              ...(error ? { error } : {}),
            },
          ],
        ]
      : [];
  try {
    const restored = await restoreOntoHost({
      config: ctx.config,
      policy: ctx.policy,
      plan: ctx.plan,
      transport: machine.transport,
      timeoutSeconds: step?.timeoutSeconds ?? 6 * 3600,
      logger: ctx.logger,
      signal: ctx.signal,
    });
    return { status: "passed", value: { restored, step: result("passed") } };
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    const message = (err as Error).message;
    return {
      status: "failed",
      value: { step: result("failed", message) },
      failure: {
        step: name,
        code: isLifeboatError(err) ? err.code : "INTERNAL",
        message,
        hint: isLifeboatError(err) ? err.hint : undefined,
      },
    };
  }
}

async function verify(
  ctx: RunContext,
  machine: ProvisionedHost | undefined,
): Promise<PhaseOutcome<CheckResult[]>> {
  const checks: CheckResult[] = [];
  // A stage runs its checks with or without data: they are what the change is tried against.
  if (!machine || (ctx.noData && ctx.mode !== "stage")) return { status: "skipped", value: checks };
  const vars = variablesOf(ctx, machine);
  for (const check of ctx.runbook.checks) {
    const result = await runCheck(check, {
      transport: machine.transport,
      address: machine.address,
      isolated: ctx.mode !== "recovery",
      vars,
      signal: ctx.signal,
      env: ctx.env,
    });
    checks.push(result);
    ctx.onEvent?.({ type: "check", check: result });
  }
  const failed = checks.filter((c) => c.status === "failed");
  if (!failed[0]) return { status: "passed", value: checks };
  const leak = failed.find((c) => c.code === "CHECK_NOT_ISOLATED");
  if (leak)
    return {
      status: "failed",
      value: checks,
      failure: {
        step: leak.name,
        code: "CHECK_NOT_ISOLATED",
        message: `check ${leak.name} would not test the ${ctx.mode} machine: ${leak.detail}`,
        hint: "Name the machine in http and tcp checks as {{address}}: in a recovery it is the new host, in a drill the drill machine. A fixed address or production's name makes a drill check production.",
      },
    };
  return {
    status: "failed",
    value: checks,
    failure: {
      step: failed[0].name,
      code: "CHECK_FAILED",
      message: `${failed.length} of ${checks.length} check(s) failed; first: ${failed[0].name}: ${failed[0].detail}`,
      hint: "The data was restored but a check did not pass: fix the runbook's steps or the check, then drill again.",
    },
  };
}

/** A drill's machine always goes, unless a failed drill is kept on request; a recovery's and a stage's stay. */
async function tearDown(
  ctx: RunContext,
  runner: PhaseRunner,
  machine: ProvisionedHost | undefined,
): Promise<Teardown> {
  if (ctx.mode !== "drill" || !machine) return { cleanup: "not needed", cleanupHint: undefined };
  const record = await runner.teardown(async (): Promise<{ ok: boolean; value: Teardown }> => {
    if (runner.failure && ctx.keep)
      return { ok: true, value: { cleanup: "kept", cleanupHint: machine.removeHint } };
    try {
      await machine.destroy();
      return { ok: true, value: { cleanup: "removed", cleanupHint: undefined } };
    } catch (err) {
      ctx.logger?.error(
        { error: (err as Error).message, remove: machine.removeHint },
        "could not remove the drill machine",
      );
      return { ok: false, value: { cleanup: "failed", cleanupHint: machine.removeHint } };
    }
  });
  return record.value ?? { cleanup: "failed", cleanupHint: machine.removeHint };
}
