// `lifeboat recover`, `drill` and `stage up`: a fresh machine from the runbook, the irreplaceable data restored onto
// it, the checks run, and a report in the catalog. The three are one run of the phases (execute.ts) in different
// modes: a drill's machine is isolated and always removed at the end; a stage's is isolated and kept until
// `stage down` or its TTL; a recovery's takes production's place.
import type { Logger } from "pino";
import { type BuildChoice, type BuildPreference, chooseBuild } from "../bake/choose.js";
import { bakedSteps } from "../bake/digest.js";
import { lastRtoAlong } from "../bake/rto.js";
import { newRunId, recordRun } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { mailReport } from "../mail/notify.js";
import { type Policy, policyForHost } from "../policy/load.js";
import { openProvider } from "../provider/open.js";
import type { RecoveryReport } from "../report/schema.js";
import { type Runbook, requireRunbook } from "../runbook/load.js";
import type { RunContext } from "./context.js";
import { execute } from "./execute.js";
import { isolationRules } from "./isolation.js";
import { type Mode, machineName } from "./machine.js";
import type { PhaseEvent } from "./phases.js";
import { planRecovery, type RecoveryPlan } from "./plan.js";
import { buildReport, runError } from "./report.js";

export type { RecoveryReport } from "../report/schema.js";
export type { Mode } from "./machine.js";
export { PHASES, type PhaseEvent, type PhaseName } from "./phases.js";
export { failedReport, isRecoveryFailed, RecoveryFailed } from "./report.js";

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
  /** Restore from this target (the offsite copy) instead of the host's own; records stay in the host's catalog. */
  from?: string | undefined;
  /** From a fresh baked image when there is one (auto, the default), always from code, or only from the image. */
  build?: BuildPreference | undefined;
  /** The runbook to run, when the caller has it: a stage's changed one, or the daemon's loaded one. */
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

/**
 * Plans (nothing exists yet: a wrong key or a missing snapshot fails here), then runs the phases inside one run
 * record. A failed or interrupted run throws RecoveryFailed with its report, after the record and the mail.
 */
/** The target `--from` names: the host's own target's copy (or the host's own target, which changes nothing). */
function copySource(config: LifeboatConfig, policy: Policy, from: string): string {
  const replica = config.targets.get(policy.repository)?.replicateTo;
  if (from === policy.repository || from === replica) return from;
  throw new LifeboatError("USAGE", `${policy.host}'s snapshots are not copied to "${from}"`, {
    hint: replica
      ? `Its target ${policy.repository} copies to ${replica}: use --from ${replica}.`
      : `Its target ${policy.repository} keeps no copy (replicate: { to: ... } in lifeboat.yaml).`,
  });
}

export async function recoverHost(options: RecoverOptions): Promise<RecoverResult> {
  const { config, mode } = options;
  const own = await policyForHost(config, options.host);
  const home = own.repository;
  // Everything about the data (plan, restore, the drill's storage endpoint) follows the source; records do not.
  const policy = options.from ? { ...own, repository: copySource(config, own, options.from) } : own;
  const runbook = options.runbook ?? (await requireRunbook(config, policy));
  const runId = newRunId();
  const machine = machineName(mode, policy, runbook, runId);
  const provider = openProvider(runbook.provider, config);
  const build = await chooseBuild(provider, runbook, policy.host, options.build ?? "auto");
  const plan = withBuild(
    await planRecovery({
      config,
      policy,
      runbook,
      mode,
      machine,
      provider: `${provider.describe(machine)}${provider.runsOn ? `; ${await provider.runsOn()}` : ""}`,
      snapshot: options.snapshot,
      noData: options.noData,
      logger: options.logger,
      signal: options.signal,
    }),
    runbook,
    build,
  );
  const replacing = mode === "recovery" && (await guardProduction(provider, machine, policy.host, options));
  options.onEvent?.({ type: "plan", plan });
  if (options.dryRun) return { dryRun: true, plan };

  const ctx: RunContext = {
    config,
    policy,
    runbook,
    plan,
    provider,
    runId,
    mode,
    trigger: options.trigger ?? "manual",
    replacing,
    build,
    // Only when baking is in play: a provider that cannot bake has one path.
    otherRto: build.digest
      ? await lastRtoAlong(config, own, build.from === "image" ? "code" : "image").catch(() => undefined)
      : undefined,
    noData: options.noData ?? false,
    keep: options.keep ?? false,
    isolation: await isolationRules(config, policy, runbook, mode),
    env: options.env,
    logger: options.logger?.child({ host: policy.host, run: runId, mode }),
    signal: options.signal,
    onEvent: options.onEvent,
  };
  let report: RecoveryReport | undefined;
  try {
    await recordRun(
      {
        id: runId,
        catalog: catalogFor(config, home),
        host: policy.host,
        kind: mode,
        trigger: ctx.trigger,
        logger: options.logger,
      },
      async (run) => {
        const done = await execute(ctx);
        report = buildReport(ctx, run.startedAt, done);
        return { report, interruption: done.interruption };
      },
      ({ report: r }) => ({
        snapshotId: r.snapshot?.id,
        totalFiles: r.restored?.files,
        totalBytes: r.restored?.bytes,
        resticVersion: r.resticVersion,
        details: { report: r },
      }),
      ({ report: r, interruption }) => runError(r, interruption),
    );
  } finally {
    // Mailed whatever the verdict (a stage's goes to whoever staged it: the terminal); mail never changes the
    // outcome (what cannot be sent is kept and sent later).
    if (report && mode !== "stage") await mailReport(config, report, policy.notify, options.logger);
  }
  if (!report) throw new LifeboatError("INTERNAL", "the recovery produced no report");
  return { dryRun: false, plan, report };
}

/** The plan says which path builds the machine, and which of its steps the baked image already holds. */
function withBuild(plan: RecoveryPlan, runbook: Runbook, build: BuildChoice): RecoveryPlan {
  const baked = new Set(build.from === "image" ? bakedSteps(runbook) : []);
  return {
    ...plan,
    steps: runbook.steps.map((s) => ({
      name: s.name,
      kind: s.kind,
      ...(baked.has(s) ? { baked: true } : {}),
    })),
    build: { from: build.from, digest: build.digest, image: build.image?.ref, why: build.why },
  };
}

/**
 * A recovery never silently replaces a machine that still runs: it may hold newer data than the snapshot. Whether
 * the machine to set aside exists is the provider's to say; one that cannot tell cannot set one aside either.
 */
async function guardProduction(
  provider: ReturnType<typeof openProvider>,
  machine: string,
  host: string,
  options: RecoverOptions,
): Promise<boolean> {
  const exists = await provider.exists(machine);
  if (exists === "unknown") {
    if (options.replace)
      throw new LifeboatError(
        "USAGE",
        `--replace cannot set ${machine} aside: its ${provider.kind} provider cannot tell whether it exists`,
        {
          hint: `Retire the old machine yourself (the ${provider.kind} provider's machines are yours), then recover without --replace.`,
        },
      );
    return false;
  }
  if (exists && !options.replace) {
    throw new LifeboatError("HOST_EXISTS", `${machine} still exists; a recovery would replace it`, {
      hint: `If it is broken, pass --replace: it is stopped and renamed (kept, nothing deleted), then rebuilt. To prove the recovery without touching it, run \`lifeboat drill --host ${host}\`.`,
    });
  }
  return exists;
}
