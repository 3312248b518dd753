// The plan and the report as a person on call reads them in a terminal.
import { formatBytes } from "../util/bytes.js";
import { formatDuration } from "../util/duration.js";
import type { RecoveryPlan } from "./plan.js";
import type { PhaseEvent, RecoveryReport } from "./run.js";

const secs = (s: number): string => (s < 60 ? `${s.toFixed(1)}s` : formatDuration(s));

export function planText(plan: RecoveryPlan): string {
  const lines = [
    `${plan.mode === "drill" ? "Drill" : "Recovery"} plan for ${plan.host}`,
    `  machine:  ${plan.provider}`,
  ];
  if (plan.snapshot) {
    const size =
      plan.snapshot.bytes !== undefined
        ? `, ${plan.snapshot.files ?? "?"} files, ${formatBytes(plan.snapshot.bytes)}`
        : "";
    lines.push(
      `  snapshot: ${plan.snapshot.shortId} from ${plan.snapshot.time} (${formatDuration(plan.snapshot.ageSeconds)} old; RPO target ${formatDuration(plan.rpoSeconds)})${size}`,
    );
  }
  if (plan.paths.length) lines.push(`  restores: ${plan.paths.join(", ")}`);
  for (const d of plan.dumps)
    lines.push(
      `  loads:    ${d.engine} ${d.database} (${d.file}${d.bytes !== undefined ? `, ${formatBytes(d.bytes)}` : ""})`,
    );
  lines.push("  steps:");
  for (const [i, s] of plan.steps.entries()) lines.push(`    ${i + 1}. ${s.name}`);
  if (plan.checks.length) lines.push(`  checks:   ${plan.checks.join("; ")}`);
  if (plan.rtoSeconds) lines.push(`  RTO target: ${formatDuration(plan.rtoSeconds)}`);
  return lines.join("\n");
}

/** One progress line per event, for stderr. */
export function eventLine(e: PhaseEvent): string | undefined {
  if (e.type === "phase") {
    if (e.status === "started") return `» ${e.phase}`;
    return `  ${e.phase} ${e.status}${e.seconds !== undefined ? ` in ${secs(e.seconds)}` : ""}`;
  }
  if (e.type === "step")
    return `  ${e.step.status === "passed" ? "ok  " : "FAIL"} ${e.step.name} (${secs(e.step.seconds)})`;
  if (e.type === "check")
    return `  ${e.check.status === "passed" ? "ok  " : "FAIL"} check ${e.check.name}: ${e.check.detail} (${e.check.attempts} attempt${e.check.attempts === 1 ? "" : "s"})`;
  return undefined;
}

export function reportText(r: RecoveryReport): string {
  const what = r.mode === "drill" ? "Drill" : r.withData ? "Recovery" : "Build (no data)";
  const rto = `RTO ${secs(r.rto.seconds)}${r.rto.targetSeconds ? `/${formatDuration(r.rto.targetSeconds)}` : ""}`;
  const age = r.rpo.sentinelAgeSeconds ?? r.rpo.snapshotAgeSeconds;
  const rpo =
    age === undefined ? "RPO unknown" : `RPO ${formatDuration(age)}/${formatDuration(r.rpo.targetSeconds)}`;
  const lines = [
    `${what} of ${r.host} ${r.verdict.toUpperCase()} — ${rto}${r.withData ? `, ${rpo}` : ""}`,
    `  run ${r.runId}, machine ${r.machine}${r.address ? ` at ${r.address}` : ""}`,
  ];
  if (r.failure) {
    lines.push(
      `  failed in ${r.failure.phase}${r.failure.step ? ` at "${r.failure.step}"` : ""}: ${r.failure.message}`,
    );
    if (r.failure.outputTail) lines.push(...r.failure.outputTail.split("\n").map((l) => `    | ${l}`));
  }
  lines.push(
    `  phases: ${r.phases.map((p) => `${p.name} ${p.status === "passed" ? secs(p.seconds) : p.status}`).join(", ")}`,
  );
  if (r.restored) {
    const parts = r.restored.files ? [`${r.restored.files} files, ${formatBytes(r.restored.bytes)}`] : [];
    for (const d of r.restored.databases)
      parts.push(
        `${d.engine} ${d.database}${d.bytes !== undefined ? ` (${formatBytes(d.bytes)} dump)` : ""}`,
      );
    lines.push(`  restored: ${parts.join("; ") || "nothing"}`);
  }
  if (r.rpo.sentinelAgeSeconds !== undefined)
    lines.push(
      `  sentinel: written by run ${r.rpo.sentinelRunId} ${formatDuration(r.rpo.sentinelAgeSeconds)} before this ${r.mode}`,
    );
  for (const c of r.checks)
    lines.push(
      `  check ${c.status === "passed" ? "ok  " : c.status === "failed" ? "FAIL" : "skip"} ${c.name}: ${c.detail}`,
    );
  if (r.mode === "drill")
    lines.push(`  cleanup: ${r.cleanup}${r.cleanupHint ? ` (remove with: ${r.cleanupHint})` : ""}`);
  return lines.join("\n");
}
