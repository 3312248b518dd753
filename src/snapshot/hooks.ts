// Runs a policy's hooks on the host (policy/hooks.ts): each through the transport's `sh -c`, with its own time
// limit, told what run it belongs to by variables. What each did (time, exit) goes into the run record.
import type { Logger } from "pino";
import { isLifeboatError, LifeboatError } from "../errors.js";
import type { Hook, HookPhase } from "../policy/hooks.js";
import type { Transport } from "../transport/types.js";

/** One hook as the run record keeps it. */
export interface HookRun {
  phase: HookPhase;
  command: string;
  /** undefined when it never ended (its time limit, or the run was stopped). */
  exitCode: number | undefined;
  seconds: number;
}

export interface HookContext {
  transport: Transport;
  host: string;
  runId: string;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
}

/** The last words of a command, for a message: its error output, else its output. */
function lastWords(stdout: string, stderr: string): string {
  const text = (stderr.trim() || stdout.trim()).slice(-600);
  return text ? `: ${text}` : "";
}

/**
 * Runs `hooks` in order. A failing `before` hook stops the rest and throws HOOK_FAILED (the snapshot must not
 * start); a failing `after`/`onError` hook is logged and the others still run (the snapshot's outcome stands).
 */
export async function runHooks(
  ctx: HookContext,
  phase: HookPhase,
  hooks: readonly Hook[],
  ran: HookRun[],
  outcome?: { outcome: "succeeded" | "failed"; errorCode?: string | undefined },
): Promise<void> {
  for (const hook of hooks) {
    const started = Date.now();
    const entry: HookRun = { phase, command: hook.run, exitCode: undefined, seconds: 0 };
    ran.push(entry);
    let failure: string | undefined;
    try {
      const r = await ctx.transport.run(["sh", "-c", hook.run], {
        env: {
          LIFEBOAT_HOST: ctx.host,
          LIFEBOAT_RUN_ID: ctx.runId,
          LIFEBOAT_HOOK: phase,
          ...(outcome ? { LIFEBOAT_OUTCOME: outcome.outcome } : {}),
          ...(outcome?.errorCode ? { LIFEBOAT_ERROR: outcome.errorCode } : {}),
        },
        timeoutMs: hook.timeoutSeconds * 1000,
        signal: ctx.signal,
      });
      entry.exitCode = r.exitCode;
      if (r.exitCode !== 0) failure = `exited ${r.exitCode}${lastWords(r.stdout, r.stderr)}`;
    } catch (err) {
      // A stopped run stops its hooks too, and is the run's outcome.
      if (isLifeboatError(err) && err.code === "INTERRUPTED") throw err;
      failure =
        isLifeboatError(err) && err.code === "COMMAND_TIMEOUT"
          ? `did not finish within ${hook.timeoutSeconds} s and was stopped`
          : (err as Error).message;
    } finally {
      entry.seconds = Math.round((Date.now() - started) / 100) / 10;
    }
    if (failure === undefined) continue;
    if (phase === "before")
      throw new LifeboatError("HOOK_FAILED", `the before hook "${hook.run}" on ${ctx.host} ${failure}`, {
        hint: "Nothing was saved: the snapshot never started. Fix the hook (run it on the host by hand to see why), then snapshot again.",
        details: { hooks: ran },
      });
    ctx.logger?.warn({ host: ctx.host, hook: hook.run, phase, failure }, "a hook failed");
  }
}
