// The daemon's clockwork: jobs on cron schedules (node-schedule), at most one run per host at a time, a global
// limit, a skipped record when a host is still busy (the first tick of a busy spell at once, the rest counted in
// one record when the host is free again), bounded retries of passing failures, catch-up of missed runs at start,
// and a graceful stop.
import { setTimeout as sleep } from "node:timers/promises";
import cronParser from "cron-parser";
import nodeSchedule from "node-schedule";
import pLimit from "p-limit";
import type { Logger } from "pino";
import { isLifeboatError, LifeboatError } from "../errors.js";

export type JobKind = "snapshot" | "check" | "drill" | "digest";

export interface Job {
  /** "snapshot:web1", "drill:web1", "digest". */
  id: string;
  kind: JobKind;
  /** The host the job works on; jobs of one host never overlap. */
  host: string | undefined;
  cron: string;
  run(signal: AbortSignal): Promise<void>;
  /** When the job last succeeded (from the catalog), for catching up after downtime. */
  lastSucceeded?(): Promise<Date | undefined>;
  /**
   * Called instead of running: its host was busy, or the daemon stopped while it waited for a slot. `ticks`, for the
   * rest of a busy spell, is how many scheduled times the call stands for (one when not given).
   */
  onSkipped?(reason: string, ticks?: number): Promise<void>;
}

/** Failures that may pass by themselves: retried with backoff within the retry window. */
const TRANSIENT = new Set(["STORAGE_UNREACHABLE", "REPOSITORY_LOCKED", "HOST_BUSY", "HOST_UNREACHABLE"]);

export interface SchedulerOptions {
  concurrency: number;
  retryWindowSeconds: number;
  retryDelaySeconds: number;
  logger?: Logger | undefined;
  /** Called when the last running job ends (the daemon then gives back the memory the work took). */
  onIdle?: (() => void) | undefined;
}

export class Scheduler {
  private readonly limit;
  private readonly busy = new Set<string>();
  /** Jobs skipped during their host's current busy spell: the first tick is recorded, the rest counted here. */
  private readonly skipping = new Map<string, { job: Job; more: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly scheduled: nodeSchedule.Job[] = [];
  private readonly work = new AbortController();
  private stopping = false;

  constructor(private readonly options: SchedulerOptions) {
    this.limit = pLimit(options.concurrency);
  }

  get running(): number {
    return this.inFlight.size;
  }

  /** Puts the jobs on their schedules (replacing any from before, for a reload). */
  schedule(jobs: readonly Job[]): void {
    for (const j of this.scheduled.splice(0)) j.cancel();
    for (const job of jobs) {
      const scheduled = nodeSchedule.scheduleJob(job.id, job.cron, () => {
        this.trigger(job);
      });
      if (scheduled) this.scheduled.push(scheduled);
      else this.options.logger?.error({ job: job.id, cron: job.cron }, "could not schedule the job");
    }
  }

  /** Runs each job whose last scheduled time passed without a success (once, however many were missed). */
  async catchUp(jobs: readonly Job[], now = new Date()): Promise<string[]> {
    const started: string[] = [];
    for (const job of jobs) {
      if (!job.lastSucceeded) continue;
      const previous = cronParser.parseExpression(job.cron, { currentDate: now }).prev().toDate();
      const last = await job.lastSucceeded().catch(() => undefined);
      if (last && last >= previous) continue;
      this.options.logger?.info(
        { job: job.id, due: previous.toISOString(), lastSucceeded: last?.toISOString() ?? "never" },
        "missed while the daemon was down: running it now",
      );
      this.trigger(job);
      started.push(job.id);
    }
    return started;
  }

  /**
   * Starts a job now unless its host is busy. Then the tick is skipped: the first of the busy spell is recorded at
   * once; later ones (an overloaded daemon skips every tick of a queued host) are counted, and recorded as one when
   * the host is free. Two writes per spell, not one per tick: at 500 hosts they were most of the catalog's writes.
   */
  trigger(job: Job): void {
    if (this.stopping) return;
    if (job.host && this.busy.has(job.host)) {
      const spell = this.skipping.get(job.id);
      if (spell) {
        spell.more++;
        return;
      }
      this.skipping.set(job.id, { job, more: 0 });
      this.options.logger?.warn(
        { job: job.id, host: job.host },
        "the host's previous run is still going: skipped",
      );
      void this.recordSkipped(job, "the host's previous run was still going");
      return;
    }
    if (job.host) this.busy.add(job.host);
    const host = job.host;
    const done = this.limit(() => this.runWithRetry(job))
      .finally(async () => {
        if (host) {
          this.busy.delete(host);
          await this.endSpell(host);
        }
      })
      .finally(() => {
        this.inFlight.delete(done);
        if (this.inFlight.size === 0 && !this.stopping) this.options.onIdle?.();
      });
    this.inFlight.add(done);
  }

  /** The host is free: the ticks its jobs skipped after the first of the spell, as one record each job. */
  private async endSpell(host: string): Promise<void> {
    const ended = [...this.skipping].filter(([, s]) => s.job.host === host);
    for (const [id] of ended) this.skipping.delete(id);
    await Promise.all(
      ended
        .filter(([, s]) => s.more > 0)
        .map(([, s]) =>
          this.recordSkipped(
            s.job,
            `the host's previous run was still going (${s.more} more scheduled time${s.more === 1 ? "" : "s"})`,
            s.more,
          ),
        ),
    );
  }

  private recordSkipped(job: Job, reason: string, ticks?: number): Promise<void> {
    return (job.onSkipped?.(reason, ticks) ?? Promise.resolve()).catch((err: unknown) =>
      this.options.logger?.error({ job: job.id, error: String(err) }, "could not record the skipped run"),
    );
  }

  private async runWithRetry(job: Job): Promise<void> {
    // Queued behind the limit when the daemon began to stop: it never starts (and says so).
    if (this.stopping) {
      await job.onSkipped?.("the daemon stopped before the run could start").catch(() => {});
      return;
    }
    const started = Date.now();
    let delay = this.options.retryDelaySeconds * 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        await job.run(this.work.signal);
        return;
      } catch (err) {
        const code = isLifeboatError(err) ? err.code : "INTERNAL";
        const withinWindow = Date.now() - started + delay <= this.options.retryWindowSeconds * 1000;
        if (!TRANSIENT.has(code) || !withinWindow || this.stopping) {
          this.options.logger?.error(
            { job: job.id, attempt, code, error: (err as Error).message },
            "job failed",
          );
          return;
        }
        this.options.logger?.warn(
          { job: job.id, attempt, code, retryInSeconds: delay / 1000 },
          "job failed for a passing reason: retrying",
        );
        try {
          await sleep(delay, undefined, { signal: this.work.signal });
        } catch {
          return;
        }
        delay *= 2;
      }
    }
  }

  /**
   * Stops scheduling; running work gets `graceSeconds` to finish, then it is interrupted (restic stops and
   * releases its lock; the run is recorded as interrupted).
   */
  async stop(graceSeconds: number): Promise<void> {
    this.stopping = true;
    for (const j of this.scheduled.splice(0)) j.cancel();
    const all = () => Promise.allSettled([...this.inFlight]);
    // The grace timer must not outlive the work: a pending timer would keep the process alive.
    const timer = new AbortController();
    const finished = await Promise.race([
      all().then(() => true),
      sleep(graceSeconds * 1000, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (!finished) {
      this.options.logger?.warn({ running: this.inFlight.size }, "grace period over: stopping running work");
      this.work.abort(new LifeboatError("INTERRUPTED", "the daemon is stopping; its grace period is over"));
      await all();
    }
  }
}
