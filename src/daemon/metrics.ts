// What the daemon exposes on /metrics (Prometheus text format, prom-client with a registry of its own).
import { Counter, Gauge, Registry } from "prom-client";
import type { RecoveryReport } from "../report/schema.js";

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly lastSuccess = new Gauge({
    name: "lifeboat_last_success_timestamp_seconds",
    help: "When the newest successful run of this kind finished, per host (Unix time)",
    labelNames: ["host", "kind"] as const,
    registers: [this.registry],
  });
  private readonly duration = new Gauge({
    name: "lifeboat_last_run_duration_seconds",
    help: "How long the newest run of this kind took, per host",
    labelNames: ["host", "kind"] as const,
    registers: [this.registry],
  });
  private readonly bytesAdded = new Gauge({
    name: "lifeboat_snapshot_bytes_added",
    help: "Bytes the newest snapshot added to the repository, per host",
    labelNames: ["host"] as const,
    registers: [this.registry],
  });
  private readonly failures = new Counter({
    name: "lifeboat_run_failures_total",
    help: "Runs that failed, per host, kind and error code",
    labelNames: ["host", "kind", "code"] as const,
    registers: [this.registry],
  });
  private readonly skipped = new Counter({
    name: "lifeboat_runs_skipped_total",
    help: "Scheduled runs not started because the host's previous run was still going",
    labelNames: ["host", "kind"] as const,
    registers: [this.registry],
  });
  private readonly drillPassed = new Gauge({
    name: "lifeboat_drill_passed",
    help: "1 when the newest drill of the host passed, 0 when it failed",
    labelNames: ["host"] as const,
    registers: [this.registry],
  });
  private readonly drillRto = new Gauge({
    name: "lifeboat_drill_rto_seconds",
    help: "RTO achieved by the newest drill, per host",
    labelNames: ["host"] as const,
    registers: [this.registry],
  });
  private readonly drillRpo = new Gauge({
    name: "lifeboat_drill_rpo_seconds",
    help: "RPO found by the newest drill (the age of the restored data), per host",
    labelNames: ["host"] as const,
    registers: [this.registry],
  });
  private readonly stale = new Gauge({
    name: "lifeboat_host_stale",
    help: "1 when the host's newest good snapshot is older than its RPO",
    labelNames: ["host"] as const,
    registers: [this.registry],
  });
  readonly watchdogRuns = new Counter({
    name: "lifeboat_watchdog_runs_total",
    help: "Watchdog rounds, by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  succeeded(host: string, kind: string, seconds: number, bytesAdded?: number): void {
    this.lastSuccess.set({ host, kind }, Date.now() / 1000);
    this.duration.set({ host, kind }, seconds);
    if (bytesAdded !== undefined) this.bytesAdded.set({ host }, bytesAdded);
  }

  failed(host: string, kind: string, code: string, seconds: number): void {
    this.failures.inc({ host, kind, code });
    this.duration.set({ host, kind }, seconds);
  }

  skippedRun(host: string, kind: string, ticks = 1): void {
    this.skipped.inc({ host, kind }, ticks);
  }

  drill(report: RecoveryReport): void {
    this.drillPassed.set({ host: report.host }, report.verdict === "failed" ? 0 : 1);
    this.drillRto.set({ host: report.host }, report.rto.seconds);
    const rpo = report.rpo.sentinelAgeSeconds ?? report.rpo.snapshotAgeSeconds;
    if (rpo !== undefined) this.drillRpo.set({ host: report.host }, rpo);
  }

  hostStale(host: string, isStale: boolean): void {
    this.stale.set({ host }, isStale ? 1 : 0);
  }
}
