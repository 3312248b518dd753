// The plan and the report as a person on call reads them in a terminal.

import { driftSummary } from "../report/render.js";
import { formatBytes } from "../util/bytes.js";
import { formatDuration } from "../util/duration.js";
import type { PhaseEvent } from "./phases.js";
import type { RecoveryPlan } from "./plan.js";

export { reportText } from "../report/render.js";

const secs = (s: number): string => (s < 60 ? `${s.toFixed(1)}s` : formatDuration(s));

export function planText(plan: RecoveryPlan): string {
  const lines = [
    `${plan.mode === "drill" ? "Drill" : plan.mode === "stage" ? "Stage" : "Recovery"} plan for ${plan.host}`,
    `  machine:  ${plan.provider}`,
    ...(plan.from ? [`  data:     from target ${plan.from}`] : []),
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
  if (plan.build?.digest)
    lines.push(
      plan.build.from === "image"
        ? `  build:    from image ${plan.build.digest} (${plan.build.image}): the steps marked * are in it`
        : `  build:    from code: ${plan.build.why}`,
    );
  lines.push("  steps:");
  for (const [i, s] of plan.steps.entries()) lines.push(`    ${i + 1}. ${s.name}${s.baked ? " *" : ""}`);
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
  if (e.type === "drift") return `  rebuild drift against production: ${driftSummary(e.drift)}`;
  if (e.type === "check")
    return `  ${e.check.status === "passed" ? "ok  " : "FAIL"} check ${e.check.name}: ${e.check.detail} (${e.check.attempts} attempt${e.check.attempts === 1 ? "" : "s"})`;
  return undefined;
}
