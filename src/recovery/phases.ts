// The phase runner: the one place that times each phase of a recovery, drill or stage, tells its listeners,
// decides that a failed or interrupted phase skips every later one, and turns an interruption into its failure.

import type { Drift } from "../drift/compare.js";
import { isLifeboatError } from "../errors.js";
import type { CheckResult, RecoveryReport, StepResult } from "../report/schema.js";
import type { RecoveryPlan } from "./plan.js";

export const PHASES = ["provision", "configure", "restore", "start", "verify"] as const;
export type PhaseName = (typeof PHASES)[number];

/** What failed first, for the report's headline. */
export type Failure = NonNullable<RecoveryReport["failure"]>;
/** A phase's own failure; the runner adds which phase it was. */
export type PhaseFailure = Omit<Failure, "phase">;

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

/** What a phase function returns: its value whatever happened, and its failure when it failed. */
export type PhaseOutcome<T> =
  | { status: "passed" | "skipped"; value: T }
  | { status: "failed"; value: T; failure: PhaseFailure };

/** A phase as the report lists it; `value` is undefined when the phase never ran. */
export interface PhaseRecord<T> {
  name: PhaseName | "teardown";
  status: "passed" | "failed" | "skipped";
  seconds: number;
  value: T | undefined;
}

export class PhaseRunner {
  readonly records: Array<PhaseRecord<unknown>> = [];
  private firstFailure: Failure | undefined;
  private interruptedBy: unknown;

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly onEvent: ((e: PhaseEvent) => void) | undefined,
  ) {}

  /** The first failure of the run (an interruption is one too). */
  get failure(): Failure | undefined {
    return this.firstFailure;
  }

  /** The abort reason when the run was interrupted. */
  get interruption(): unknown {
    return this.interruptedBy;
  }

  /** Runs a phase unless an earlier one failed (then it is recorded as skipped and `fn` never runs). */
  async run<T>(name: PhaseName, fn: () => Promise<PhaseOutcome<T>>): Promise<PhaseRecord<T>> {
    if (this.firstFailure) return this.skip(name);
    if (this.signal?.aborted) {
      this.interrupt(name, this.signal.reason);
      return this.record<T>({ name, status: "failed", seconds: 0, value: undefined });
    }
    this.onEvent?.({ type: "phase", phase: name, status: "started" });
    const started = Date.now();
    let outcome: PhaseOutcome<T> | undefined;
    try {
      outcome = await fn();
    } catch (err) {
      if (!this.signal?.aborted) {
        this.firstFailure = {
          phase: name,
          code: isLifeboatError(err) ? err.code : "INTERNAL",
          message: (err as Error).message,
          hint: isLifeboatError(err)
            ? err.hint
            : "This is a bug in Lifeboat: please report it with the run's log.",
        };
      }
    }
    // A step that failed because the run was stopped was interrupted, whatever it reported.
    if (this.signal?.aborted && outcome?.status !== "passed") this.interrupt(name, this.signal.reason);
    else if (outcome?.status === "failed") this.firstFailure = { phase: name, ...outcome.failure };
    const status = !outcome || outcome.status === "failed" ? "failed" : outcome.status;
    return this.record({ name, status, seconds: (Date.now() - started) / 1000, value: outcome?.value });
  }

  /**
   * Work between phases that is not one (a drill's drift comparison): it runs only while nothing failed; an
   * interruption during it counts against `phase`, any other error is the caller's.
   */
  async between<T>(phase: PhaseName, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.firstFailure) return undefined;
    try {
      return await fn();
    } catch (err) {
      if (!this.signal?.aborted) throw err;
      this.interrupt(phase, this.signal.reason ?? err);
      return undefined;
    }
  }

  /** The teardown: runs whatever happened before; its own failure is in its record, not the run's. */
  async teardown<T>(fn: () => Promise<{ ok: boolean; value: T }>): Promise<PhaseRecord<T>> {
    this.onEvent?.({ type: "phase", phase: "teardown", status: "started" });
    const started = Date.now();
    const { ok, value } = await fn();
    return this.record({
      name: "teardown",
      status: ok ? "passed" : "failed",
      seconds: (Date.now() - started) / 1000,
      value,
    });
  }

  private skip<T>(name: PhaseName): PhaseRecord<T> {
    return this.record<T>({ name, status: "skipped", seconds: 0, value: undefined });
  }

  private interrupt(phase: PhaseName, reason: unknown): void {
    this.interruptedBy ??= reason ?? new Error("interrupted");
    this.firstFailure ??= {
      phase,
      code: "INTERRUPTED",
      message: "interrupted",
      hint: "The run was stopped before it finished; run it again.",
    };
  }

  private record<T>(r: PhaseRecord<T>): PhaseRecord<T> {
    this.records.push(r);
    this.onEvent?.({
      type: "phase",
      phase: r.name,
      status: r.status,
      ...(r.status === "skipped" ? {} : { seconds: r.seconds }),
    });
    return r;
  }
}
