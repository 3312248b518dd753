// Runs one restic command: secrets only in its environment, JSON lines streamed, failures typed.
import { execa } from "execa";
import type { Logger } from "pino";
import { LifeboatError } from "../errors.js";
import type { Transport } from "../transport/types.js";
import { childEnv } from "../util/child-env.js";
import { resticError } from "./errors.js";
import { type JsonMessage, parseJsonLine } from "./messages.js";

export interface ResticContext {
  binary: string;
  /** The repository location (RESTIC_REPOSITORY); shown in errors. */
  repository: string;
  /** Options for every call, such as an S3 target's --cacert and -o s3.*; never secrets. */
  globalArgs?: string[] | undefined;
  /** Variables that carry the password (RESTIC_PASSWORD_FILE or RESTIC_PASSWORD) and credentials. */
  secretEnv: Record<string, string>;
  /** Where the password came from, named in a wrong password's hint. */
  passwordFrom?: string | undefined;
  /** Values that must never be shown: they are replaced in every message that leaves this module. */
  secrets: string[];
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  /** The environment to start from (default: this process's); RESTIC_* variables in it are dropped. */
  baseEnv?: NodeJS.ProcessEnv | undefined;
  /** Watches remote storage while restic runs: restic itself retries an outage for 15 minutes. */
  storageProbe?: StorageProbe | undefined;
  /** Runs restic on this host (ssh, container); default: here. */
  transport?: Transport | undefined;
}

export interface StorageProbe {
  /** Resolves when the storage answers; rejects with the typed error when it does not. */
  check(): Promise<void>;
  intervalMs: number;
  /** How long the storage may stay unreachable before restic is stopped. */
  giveUpAfterMs: number;
}

/** Probes until stopped; calls `giveUp` once the storage has failed every probe for giveUpAfterMs. */
function watchStorage(probe: StorageProbe, giveUp: (err: LifeboatError) => void): () => void {
  let stopped = false;
  let failingSince: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  const unreachable = (err: unknown): LifeboatError =>
    err instanceof LifeboatError ? err : new LifeboatError("STORAGE_UNREACHABLE", String(err));
  const tick = async (): Promise<void> => {
    // Once failing, the bound is kept to the moment: a probe still waiting at the deadline counts as failed,
    // and the next probe is timed to the deadline rather than a whole interval later.
    const deadline = failingSince === undefined ? undefined : failingSince + probe.giveUpAfterMs;
    let failure: unknown;
    let wait: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        probe.check(),
        ...(deadline === undefined
          ? []
          : [
              new Promise<never>((_, reject) => {
                wait = setTimeout(
                  () => reject(new LifeboatError("STORAGE_UNREACHABLE", "the storage did not answer")),
                  Math.max(0, deadline - Date.now()),
                );
              }),
            ]),
      ]);
      failingSince = undefined;
    } catch (err) {
      failure = err;
      failingSince ??= Date.now();
    } finally {
      clearTimeout(wait);
    }
    if (stopped) return;
    const limit = (failingSince ?? 0) + probe.giveUpAfterMs;
    if (failure !== undefined && Date.now() >= limit) {
      stopped = true;
      giveUp(unreachable(failure));
      return;
    }
    const next = failure === undefined ? probe.intervalMs : Math.min(probe.intervalMs, limit - Date.now());
    timer = setTimeout(tick, Math.max(0, next));
  };
  timer = setTimeout(tick, probe.intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export interface RunOptions {
  /** restic's own arguments after the subcommand; never secrets. */
  args: string[];
  /** Called for every JSON message on stdout (status, summary, error, node...). */
  onMessage?: (message: JsonMessage) => void;
  /** Called for every stdout line that is not a JSON message (snapshots' array, for example). */
  onLine?: (line: string) => void;
  /** Variables for this call only (a dump's database password), added to restic's environment. */
  env?: Record<string, string>;
  /** More values to redact from every message of this call. */
  secrets?: string[];
  /** Called for every stderr line that is neither JSON nor empty, already redacted. */
  onStderrLine?: (line: string) => void;
  /** Exit codes that are not failures for this call (backup's 3 is handled by the caller). */
  allowExitCodes?: number[];
}

export interface RunResult {
  exitCode: number;
  stderr: string;
}

export function redactor(secrets: readonly string[]): (text: string) => string {
  const real = secrets.filter((s) => s.length >= 4);
  return (text) => real.reduce((t, s) => t.split(s).join("[redacted]"), text);
}

/** A local restic's environment: the machine's basics, the repository and its credentials, nothing else. */
export function resticEnv(ctx: ResticContext): Record<string, string> {
  return childEnv(
    { RESTIC_REPOSITORY: ctx.repository, ...ctx.secretEnv, RESTIC_PROGRESS_FPS: "4" },
    { from: ctx.baseEnv ?? process.env, pass: ["GOMAXPROCS", "GOGC", "GODEBUG"] },
  );
}

/** What a restic on another host gets: the repository, credentials and settings, nothing of this machine's. */
function hostEnv(ctx: ResticContext): Record<string, string> {
  return { RESTIC_REPOSITORY: ctx.repository, ...ctx.secretEnv, RESTIC_PROGRESS_FPS: "4" };
}

export async function runRestic(
  ctx: ResticContext,
  subcommand: string,
  options: RunOptions,
): Promise<RunResult> {
  const args = [subcommand, "--json", ...(ctx.globalArgs ?? []), ...options.args];
  const redact = redactor([...ctx.secrets, ...(options.secrets ?? [])]);
  let exitError: JsonMessage | undefined;
  const stderrLines: string[] = [];
  ctx.logger?.debug({ restic: ctx.binary, args }, "running restic");

  // Our own signal: aborted by the caller's (Ctrl-C) or by the storage watch.
  const stop = new AbortController();
  const forward = () => stop.abort(ctx.signal?.reason);
  if (ctx.signal?.aborted) forward();
  ctx.signal?.addEventListener("abort", forward, { once: true });
  let outage: LifeboatError | undefined;
  const unwatch = ctx.storageProbe
    ? watchStorage(ctx.storageProbe, (err) => {
        outage = err;
        stop.abort(err);
      })
    : undefined;

  // On another host, a local client (ssh, podman exec) carries restic; its stdin held open stops restic there
  // when the client is killed.
  const launch = ctx.transport?.launch([ctx.binary, ...args], { ...hostEnv(ctx), ...options.env });
  const subprocess = execa(launch?.file ?? ctx.binary, launch?.args ?? args, {
    env: launch?.env ?? { ...resticEnv(ctx), ...options.env },
    extendEnv: false,
    stdin: launch?.stdinPrefix ? "pipe" : "ignore",
    reject: false,
    cancelSignal: stop.signal,
    forceKillAfterDelay: 10_000,
    // Line transforms that consume every line themselves: the messages are handled here, nothing is buffered.
    // biome-ignore lint/correctness/useYield: an execa transform that yields nothing drops the line
    stdout: function* (line: string) {
      const message = parseJsonLine(line);
      if (message) options.onMessage?.(message);
      else options.onLine?.(line);
    },
    // biome-ignore lint/correctness/useYield: as above
    stderr: function* (line: string) {
      const message = parseJsonLine(line);
      if (message?.message_type === "exit_error") exitError = message;
      else if (message) options.onMessage?.(message);
      else if (line.trim()) {
        // Bounded: a restic that prints a warning per file must not fill memory.
        if (stderrLines.length >= 200) stderrLines.shift();
        const shown = redact(line);
        stderrLines.push(shown);
        options.onStderrLine?.(shown);
      }
    },
  });
  if (launch?.stdinPrefix) {
    subprocess.stdin?.on("error", () => {});
    subprocess.stdin?.write(launch.stdinPrefix);
  }
  const result = await subprocess.finally(() => {
    unwatch?.();
    ctx.signal?.removeEventListener("abort", forward);
  });
  const stderr = stderrLines.join("\n");
  if (stderr) ctx.logger?.debug({ stderr }, `restic ${subcommand} stderr`);
  // The client's own failure (ssh 255, a stopped container) is the host's, not restic's.
  const exitCode = (launch ? launch.exitCode(result.exitCode, stderr) : result.exitCode) ?? -1;
  // Once we stopped it, its exit says nothing: a client killed on another host may still report success.
  const stopped = stop.signal.aborted;
  if (!stopped && (exitCode === 0 || options.allowExitCodes?.includes(exitCode))) return { exitCode, stderr };

  if (outage && (exitCode !== 0 || stopped)) {
    const seconds = Math.round((ctx.storageProbe?.giveUpAfterMs ?? 0) / 1000);
    throw new LifeboatError(
      "STORAGE_UNREACHABLE",
      `the storage stopped answering during restic ${subcommand}; stopped restic after ${seconds}s: ${outage.message}`,
      {
        hint: "Nothing partial was saved as a snapshot. Run again when the storage is back; raise outageTimeout in lifeboat.yaml to wait longer.",
        cause: outage,
      },
    );
  }
  if (ctx.signal?.aborted) {
    // A caller that stops restic for a reason of its own (a snapshot's time limit) gave that reason.
    if (ctx.signal.reason instanceof LifeboatError) throw ctx.signal.reason;
    // We stopped restic (Ctrl-C, SIGTERM): whatever it exited with, the cause is the interruption.
    throw new LifeboatError("INTERRUPTED", `restic ${subcommand} was interrupted`, {
      hint: "Nothing that was already saved is lost. Run the command again; `lifeboat unlock` clears a lock it left behind.",
      details: { resticExitCode: result.exitCode, signal: result.signal },
    });
  }
  const message =
    typeof exitError?.message === "string"
      ? exitError.message
      : stderrLines.slice(-5).join("\n") || (result.shortMessage ?? "");
  throw resticError(
    {
      command: subcommand,
      exitCode: result.exitCode ?? (typeof exitError?.code === "number" ? exitError.code : undefined),
      signal: result.signal,
      message,
      repository: ctx.repository,
      passwordFrom: ctx.passwordFrom,
    },
    redact,
  );
}
