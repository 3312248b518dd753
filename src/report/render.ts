// A report as a person reads it: the mail subject, plain text, and HTML for mail clients (inline styles only,
// tables for layout, no scripts or external resources).
import { formatBytes } from "../util/bytes.js";
import { formatDuration } from "../util/duration.js";
import type { RecoveryReport, RpoItem } from "./schema.js";

const secs = (s: number): string => (s < 60 ? `${s.toFixed(1)}s` : formatDuration(s));
const short = (s: number): string => formatDuration(s);

function title(r: RecoveryReport): string {
  if (r.mode === "stage") return r.withData ? "Stage (with data)" : "Stage";
  return r.mode === "drill" ? "Drill" : r.withData ? "Recovery" : "Build (no data)";
}

/** The report's RPO: its oldest restored item (older reports: the sentinel, else the snapshot). */
function rpoAge(r: RecoveryReport): number | undefined {
  return r.rpo.items[0]?.ageSeconds ?? r.rpo.sentinelAgeSeconds ?? r.rpo.snapshotAgeSeconds;
}

/** "mysql app: from run 3fa1, 2 runs ago": which item set the RPO, and where it came from. */
export function describeItem(i: RpoItem): string {
  const from = i.runId ? `from run ${i.runId}` : `${i.source} ${formatDuration(i.ageSeconds)} old`;
  return `${i.item}: ${from}${i.runsAgo ? `, ${i.runsAgo} run${i.runsAgo === 1 ? "" : "s"} ago` : ""}`;
}

/** PASSED, PASSED WITH WARNINGS, FAILED. */
export const verdictWords = (r: Pick<RecoveryReport, "verdict">): string =>
  r.verdict.replace(/-/g, " ").toUpperCase();

/** "RPO 7h/1d", "RPO 1m28s/1m BREACHED (mysql app: from run 3fa1, 2 runs ago)", "RPO unknown". */
function rpoText(r: RecoveryReport): string {
  const age = rpoAge(r);
  if (age === undefined) return "RPO unknown";
  const text = `RPO ${short(age)}/${short(r.rpo.targetSeconds)}`;
  const oldest = r.rpo.items[0];
  return r.rpo.met === false ? `${text} BREACHED${oldest ? ` (${describeItem(oldest)})` : ""}` : text;
}

/** "RTO 1m42s/15m, RPO 7h/1d": achieved against target; "RTO 9s/15m from image (48s from code)" once baked. */
export function headline(r: RecoveryReport, format: (s: number) => string = short): string {
  const rto = `RTO ${format(r.rto.seconds)}${r.rto.targetSeconds ? `/${short(r.rto.targetSeconds)}` : ""}${pathText(r, format)}`;
  if (!r.withData) return rto;
  return `${rto}, ${rpoText(r)}`;
}

/** `[lifeboat] drill web1 PASSED — RTO 1m42s/15m, RPO 7h/1d` */
/**
 * " from image (48s from code)": which path built the machine, beside the last RTO along the other one; nothing
 * for a host that was only ever built from code (there is one path).
 */
function pathText(r: RecoveryReport, format: (s: number) => string): string {
  if (!r.build?.digest || (r.build.from === "code" && !r.build.otherRto)) return "";
  const other = r.build.otherRto
    ? ` (${format(r.build.otherRto.seconds)} from ${r.build.otherRto.from})`
    : "";
  return ` from ${r.build.from}${other}`;
}

export function reportSubject(r: RecoveryReport): string {
  const mode = r.mode === "recovery" ? (r.withData ? "recovery" : "build") : r.mode;
  const where = r.failure ? ` at ${r.failure.step ?? r.failure.phase}` : "";
  return `[lifeboat] ${mode} ${r.host} ${verdictWords(r)}${where} — ${headline(r)}`;
}

export function reportText(r: RecoveryReport): string {
  const lines = [
    `${title(r)} of ${r.host} ${verdictWords(r)} — ${headline(r, secs)}`,
    `  run ${r.runId} (${r.trigger}), machine ${r.machine}${r.address ? ` at ${r.address}` : ""}`,
  ];
  if (r.failure) {
    lines.push(
      `  failed in ${r.failure.phase}${r.failure.step ? ` at "${r.failure.step}"` : ""}: ${r.failure.message}`,
    );
    if (r.failure.outputTail) lines.push(...r.failure.outputTail.split("\n").map((l) => `    | ${l}`));
    lines.push(`  cause: ${r.failure.code}${r.failure.hint ? `; what to do: ${r.failure.hint}` : ""}`);
  }
  for (const w of r.warnings) lines.push(`  warning [${w.code}]: ${w.message}`);
  if (r.isolation)
    lines.push(`  isolation: ${r.isolation.enforced ? "" : "NOT ENFORCED: "}${r.isolation.detail}`);
  if (r.build?.digest) lines.push(`  built: ${buildText(r.build)}`);
  lines.push(
    `  phases: ${r.phases.map((p) => `${p.name} ${p.status === "passed" ? secs(p.seconds) : p.status}`).join(", ")}`,
  );
  if (r.snapshot) lines.push(`  snapshot: ${r.snapshot.shortId} from ${r.snapshot.time}`);
  if (r.restored) lines.push(`  restored: ${restoredText(r)}`);
  for (const i of r.rpo.items)
    lines.push(
      `  rpo   ${i.met ? "ok  " : "OLD "} ${describeItem(i)} (${formatDuration(i.ageSeconds)} old, by its ${i.source})`,
    );
  for (const s of r.steps)
    lines.push(
      `  step  ${mark(s.status)} ${s.name} (${s.detail ?? secs(s.seconds)})${s.error ? `: ${s.error}` : ""}`,
    );
  for (const c of r.checks) lines.push(`  check ${mark(c.status)} ${c.name}: ${c.detail}`);
  if (r.drift) {
    lines.push(`  rebuild drift: ${driftSummary(r.drift)}`);
    for (const [what, why] of driftLines(r.drift)) lines.push(`    ${what}: ${why}`);
  }
  if (r.mode === "drill")
    lines.push(`  cleanup: ${r.cleanup}${r.cleanupHint ? ` (remove with: ${r.cleanupHint})` : ""}`);
  // A --no-data build ran no restic.
  lines.push(`  ${r.resticVersion ? `restic ${r.resticVersion}, ` : ""}lifeboat ${r.lifeboatVersion}`);
  return lines.join("\n");
}

/** "from image abc…: /var/…/web1-abc….qcow2, image abc… baked …" or "from code: the image is stale: …". */
function buildText(b: NonNullable<RecoveryReport["build"]>): string {
  return b.from === "image" ? `from image ${b.digest}: ${b.image ?? "?"}, ${b.why}` : `from code: ${b.why}`;
}

type DriftReport = NonNullable<RecoveryReport["drift"]>;

/** One line: "none", "not compared (...)", or the counts. */
export function driftSummary(d: DriftReport): string {
  if (!d.compared) return `not compared (${d.reason ?? "unknown"})`;
  const c = d.files.counts;
  const p = d.packages;
  const parts = [
    c.onlyProduction ? `${c.onlyProduction} only in production` : "",
    c.onlyRebuilt ? `${c.onlyRebuilt} only in the rebuild` : "",
    c.differ ? `${c.differ} differ` : "",
    p?.onlyProduction.length ? `packages only in production: ${p.onlyProduction.join(" ")}` : "",
    p?.onlyRebuilt.length ? `packages only in the rebuild: ${p.onlyRebuilt.join(" ")}` : "",
    p?.versionDiffers.length ? `${p.versionDiffers.length} package versions differ` : "",
  ].filter(Boolean);
  return parts.length
    ? parts.join("; ")
    : `none (${c.same} files in ${d.paths.length} rebuildable path${d.paths.length === 1 ? "" : "s"} identical${p ? ", same packages" : ""})`;
}

/** Each drifted file with what is wrong with it. */
function driftLines(d: DriftReport): Array<[string, string]> {
  return [
    ...d.files.onlyProduction.map((f): [string, string] => [
      f,
      "only in production: the runbook does not make it",
    ]),
    ...d.files.differ.map((f): [string, string] => [f, "differs from what the runbook makes"]),
    ...d.files.onlyRebuilt.map((f): [string, string] => [f, "only in the rebuild: production lacks it"]),
    ...(d.notCompared ?? []).map((f): [string, string] => [
      f,
      "not compared: written from a template that uses {{runId}}",
    ]),
    ...(d.packages?.versionDiffers ?? []).map((v): [string, string] => [
      `package ${v.name}`,
      `production ${v.production}, rebuild ${v.rebuilt}`,
    ]),
  ];
}

const mark = (status: string): string =>
  status === "passed" ? "ok  " : status === "failed" ? "FAIL" : "skip";

function restoredText(r: RecoveryReport): string {
  if (!r.restored) return "nothing";
  const parts = r.restored.files ? [`${r.restored.files} files, ${formatBytes(r.restored.bytes)}`] : [];
  for (const d of r.restored.databases)
    parts.push(`${d.engine} ${d.database}${d.bytes !== undefined ? ` (${formatBytes(d.bytes)} dump)` : ""}`);
  return parts.join("; ") || "nothing";
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLORS = {
  passed: "#1a7f37",
  "passed-with-warnings": "#9a6700",
  failed: "#cf222e",
  skipped: "#6e7781",
} as const;
const cell = "padding:4px 10px;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:top";
const head = `${cell};background:#f6f8fa;font-weight:600`;

function badge(status: "passed" | "failed" | "skipped"): string {
  return `<span style="color:${COLORS[status]};font-weight:600">${status.toUpperCase()}</span>`;
}

function table(headers: string[], rows: string[][]): string {
  return (
    `<table cellpadding="0" cellspacing="0" style="border-collapse:collapse;margin:8px 0 16px;font-size:14px">` +
    `<tr>${headers.map((h) => `<th style="${head}">${escapeHtml(h)}</th>`).join("")}</tr>` +
    rows.map((r) => `<tr>${r.map((c) => `<td style="${cell}">${c}</td>`).join("")}</tr>`).join("") +
    "</table>"
  );
}

function target(achieved: number | undefined, goal: number | undefined, met: boolean | undefined): string {
  if (achieved === undefined) return "unknown";
  const color = met === undefined ? "#24292f" : met ? COLORS.passed : COLORS.failed;
  return `<span style="color:${color};font-weight:600">${escapeHtml(short(achieved))}</span>${goal ? ` of ${escapeHtml(short(goal))} target` : ""}`;
}

export function reportHtml(r: RecoveryReport): string {
  const e = escapeHtml;
  const verdict = verdictWords(r);
  const banner =
    `<div style="background:${COLORS[r.verdict]};color:#ffffff;padding:14px 18px;font-size:20px;font-weight:700">` +
    `${e(title(r))} of ${e(r.host)} ${verdict}</div>`;
  const facts: Array<[string, string]> = [["RTO", target(r.rto.seconds, r.rto.targetSeconds, r.rto.met)]];
  if (r.withData) {
    facts.push([
      "RPO",
      `${target(rpoAge(r), r.rpo.targetSeconds, r.rpo.met)}${r.rpo.met === false ? ` <strong style="color:${COLORS.failed}">BREACHED</strong>` : ""}`,
    ]);
    if (r.snapshot) facts.push(["Snapshot", `${e(r.snapshot.shortId)} from ${e(r.snapshot.time)}`]);
    for (const i of r.rpo.items)
      facts.push([
        i.kind === "dump" ? "Database" : "Files",
        `${target(i.ageSeconds, undefined, i.met)} ${e(describeItem(i))} (by its ${e(i.source)})`,
      ]);
    facts.push(["Restored", e(restoredText(r))]);
  }
  facts.push(
    ["Machine", `${e(r.machine)}${r.address ? ` at ${e(r.address)}` : ""} (${e(r.provider)})`],
    ["Run", `${e(r.runId)}, ${e(r.trigger)}, ${e(r.startedAt)}`],
  );
  if (r.isolation)
    facts.push([
      "Isolation",
      `${r.isolation.enforced ? "" : "<strong>NOT ENFORCED</strong>: "}${e(r.isolation.detail)}`,
    ]);
  if (r.build?.digest) facts.push(["Built", e(buildText(r.build))]);
  if (r.mode === "drill")
    facts.push(["Cleanup", `${e(r.cleanup)}${r.cleanupHint ? `: <code>${e(r.cleanupHint)}</code>` : ""}`]);
  const warnings = r.warnings
    .map(
      (w) =>
        `<div style="border-left:4px solid ${COLORS["passed-with-warnings"]};padding:8px 12px;margin:12px 0;background:#fff8c5">` +
        `<strong>Warning [${e(w.code)}]</strong>: ${e(w.message)}</div>`,
    )
    .join("");
  const failure = r.failure
    ? `<div style="border-left:4px solid ${COLORS.failed};padding:8px 12px;margin:12px 0;background:#fff5f5">` +
      `<strong>Failed in ${e(r.failure.phase)}${r.failure.step ? ` at “${e(r.failure.step)}”` : ""} [${e(r.failure.code)}]</strong>: ${e(r.failure.message)}` +
      (r.failure.outputTail
        ? `<pre style="font-size:12px;background:#f6f8fa;padding:8px;white-space:pre-wrap">${e(r.failure.outputTail)}</pre>`
        : "") +
      (r.failure.hint
        ? `<p style="margin:6px 0 0"><strong>What to do:</strong> ${e(r.failure.hint)}</p>`
        : "") +
      "</div>"
    : "";
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${e(reportSubject(r))}</title></head>` +
    `<body style="margin:0;padding:0;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#24292f">` +
    `<div style="max-width:760px;margin:0 auto">${banner}<div style="padding:8px 18px">` +
    failure +
    warnings +
    `<table cellpadding="0" cellspacing="0" style="margin:12px 0;font-size:14px">${facts
      .map(
        ([k, v]) =>
          `<tr><td style="padding:3px 16px 3px 0;color:#57606a">${e(k)}</td><td style="padding:3px 0">${v}</td></tr>`,
      )
      .join("")}</table>` +
    `<h3 style="margin:16px 0 0">Phases</h3>` +
    table(
      ["Phase", "Result", "Time"],
      r.phases.map((p) => [e(p.name), badge(p.status), e(secs(p.seconds))]),
    ) +
    `<h3 style="margin:16px 0 0">Steps</h3>` +
    table(
      ["Step", "Result", "Time", "Detail"],
      r.steps.map((s) => [
        e(s.name),
        badge(s.status),
        e(secs(s.seconds)),
        e(
          [s.exitCode !== undefined ? `exit ${s.exitCode}` : "", s.error ?? s.detail ?? ""]
            .filter(Boolean)
            .join(": "),
        ),
      ]),
    ) +
    (r.drift
      ? `<h3 style="margin:16px 0 0">Rebuild drift</h3><p style="margin:4px 0;font-size:14px">${e(driftSummary(r.drift))}</p>` +
        (driftLines(r.drift).length
          ? table(
              ["Path", "Drift"],
              driftLines(r.drift).map(([what, why]) => [`<code>${e(what)}</code>`, e(why)]),
            )
          : "")
      : "") +
    (r.checks.length
      ? `<h3 style="margin:16px 0 0">Checks</h3>` +
        table(
          ["Check", "Result", "Attempts", "Detail"],
          r.checks.map((c) => [e(c.name), badge(c.status), String(c.attempts), e(c.detail)]),
        )
      : "") +
    `<p style="color:#6e7781;font-size:12px">${r.resticVersion ? `restic ${e(r.resticVersion)}, ` : ""}Lifeboat ${e(r.lifeboatVersion)}. The full report is attached as JSON.</p>` +
    "</div></div></body></html>"
  );
}
