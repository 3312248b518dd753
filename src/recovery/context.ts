// What every phase of a recovery, drill or stage is given: fixed before the first phase starts.
import type { Logger } from "pino";
import type { BuildChoice } from "../bake/choose.js";
import type { LifeboatConfig } from "../config/load.js";
import type { Policy } from "../policy/load.js";
import type { IsolationRules } from "../provider/isolation.js";
import type { Provider } from "../provider/types.js";
import type { Runbook } from "../runbook/load.js";
import type { Mode } from "./machine.js";
import type { PhaseEvent } from "./phases.js";
import type { RecoveryPlan } from "./plan.js";

/** Everything the phases need, fixed before the first one starts. */
export interface RunContext {
  config: LifeboatConfig;
  policy: Policy;
  runbook: Runbook;
  plan: RecoveryPlan;
  provider: Provider;
  runId: string;
  mode: Mode;
  trigger: "manual" | "schedule";
  /** A recovery over a machine that still exists: it is set aside (stopped, renamed, kept) first. */
  replacing: boolean;
  noData: boolean;
  /** Drill: keep the machine when the drill fails, for debugging. */
  keep: boolean;
  /** From a baked image or from code. */
  build: BuildChoice;
  /** The last passed run's RTO along the other path, for the report ("RTO 9s from image / 48s from code"). */
  otherRto?: { from: "code" | "image"; seconds: number; runId: string; at: string } | undefined;
  /** What a drill's or stage's machine may reach (undefined: a recovery, or the runbook turned isolation off). */
  isolation: IsolationRules | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: ((event: PhaseEvent) => void) | undefined;
}
