// `lifeboat stage up`: an isolated copy of a host built from a changed runbook (a file, or the runbook at a git
// ref), optionally with its data, its checks run, and kept (whatever the verdict) until `stage down` or its TTL.
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost } from "../policy/load.js";
import type { PhaseEvent } from "../recovery/phases.js";
import { isRecoveryFailed, type RecoveryFailed, type RecoveryReport, recoverHost } from "../recovery/run.js";
import { runbookAtRef } from "../runbook/at-ref.js";
import { type Runbook, requireRunbook, runbookFileOf } from "../runbook/load.js";
import { recordStage, type StageRecord, stageRecord } from "./stages.js";

export interface StageUpOptions {
  config: LifeboatConfig;
  host: string;
  /** The changed runbook: a file, or the host's runbook as it is at a git ref; else the host's own. */
  runbookFile?: string | undefined;
  ref?: string | undefined;
  withData: boolean;
  snapshot?: string | undefined;
  ttlSeconds: number;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: (event: PhaseEvent) => void;
}

export interface StageUp {
  report: RecoveryReport;
  /** Undefined when no machine came to exist (provisioning failed): there is nothing to keep. */
  record: StageRecord | undefined;
  /** The stage's failure (a step or check failed, or it was interrupted): its machine is kept all the same. */
  failure: RecoveryFailed | undefined;
  /** The container engine that made its machine, for the hint on how to reach it. */
  engine: string | undefined;
}

/** The runbook to stage and where it came from (shown in `stage list`); `dispose` removes a ref's checkout. */
async function stagedRunbook(
  options: StageUpOptions,
): Promise<{ runbook: Runbook; source: string; dispose: () => Promise<void> }> {
  const { config } = options;
  if (options.runbookFile && options.ref)
    throw new LifeboatError("USAGE", "give --runbook or --ref, not both");
  const policy = await policyForHost(config, options.host);
  const own = await requireRunbook(config, policy);
  let staged: { runbook: Runbook; source: string; dispose: () => Promise<void> };
  if (options.ref) {
    const at = await runbookAtRef(config, policy, options.ref);
    staged = {
      runbook: at.runbook,
      source: `${options.ref} (${at.commit.slice(0, 8)})`,
      dispose: at.dispose,
    };
  } else {
    const file = options.runbookFile ? path.resolve(options.runbookFile) : runbookFileOf(config, policy);
    const runbook = options.runbookFile ? await requireRunbook(config, { ...policy, runbook: file }) : own;
    staged = { runbook, source: file, dispose: async () => {} };
  }
  // A provider runs on the controller (its commands, its engine): a branch or file may change what is built on
  // the machine, never how machines are made or removed here.
  if (!isDeepStrictEqual(staged.runbook.provider, own.provider)) {
    await staged.dispose();
    throw new LifeboatError(
      "USAGE",
      `${staged.source} changes ${options.host}'s provider; a stage is made by the provider of the runbook on this controller`,
      {
        hint: "A provider's commands run on the controller: change it in the runbook here (review it, commit it), then stage the rest.",
      },
    );
  }
  return staged;
}

export async function stageUp(options: StageUpOptions): Promise<StageUp> {
  const { config } = options;
  const { runbook, source, dispose } = await stagedRunbook(options);
  let report: RecoveryReport;
  let failure: RecoveryFailed | undefined;
  try {
    const result = await recoverHost({
      config,
      host: options.host,
      mode: "stage",
      runbook,
      snapshot: options.snapshot,
      noData: !options.withData,
      logger: options.logger,
      signal: options.signal,
      onEvent: options.onEvent,
    });
    if (result.dryRun) throw new LifeboatError("INTERNAL", "a stage is never a dry run");
    report = result.report;
  } catch (err) {
    if (!isRecoveryFailed(err)) throw err;
    report = err.result;
    failure = err;
  } finally {
    await dispose();
  }
  // Kept whatever the verdict, and listed: a failed change is what one wants to look at.
  let record: StageRecord | undefined;
  if (report.phases[0]?.status === "passed") {
    record = stageRecord(report, runbook.provider.kind, source, options.ttlSeconds);
    await recordStage(config, await policyForHost(config, options.host), record);
  }
  const engine = runbook.provider.kind === "container" ? (runbook.provider.engine ?? "podman") : undefined;
  return { report, record, failure, engine };
}
