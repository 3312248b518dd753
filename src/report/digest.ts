// The weekly digest: every host at a glance (last snapshot and its age against the RPO, last drill and its
// verdict, the RTO of the last drills), in text and HTML. Built from the catalog alone.

import pLimit from "p-limit";
import { newestAudit } from "../audit/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { hasDrift } from "../drift/compare.js";
import { type Policy, requireValidPolicies } from "../policy/load.js";
import { HOSTS_AT_ONCE, hostStatus } from "../status/status.js";
import { formatDuration } from "../util/duration.js";
import { hostReports } from "./find.js";
import { driftSummary, escapeHtml, verdictWords } from "./render.js";
import type { RecoveryReport } from "./schema.js";

export interface DigestRow {
  host: string;
  lastSnapshotAt: string | undefined;
  snapshotAgeSeconds: number | undefined;
  rpoSeconds: number;
  fresh: boolean;
  lastRunFailed: boolean;
  /** The offsite copy's newest snapshot, when the target keeps one. */
  copy: { target: string; newestAt: string | undefined; lastFailed: boolean } | undefined;
  /** Why the newest held snapshot is suspicious, until a person accepts it. */
  suspicious: string[] | undefined;
  lastDrill:
    | {
        runId: string;
        at: string;
        verdict: RecoveryReport["verdict"];
        rtoSeconds: number;
        rtoTargetSeconds: number | undefined;
      }
    | undefined;
  /** RTO of the last drills, oldest first. */
  rtoTrend: number[];
  /** The last drill's rebuild drift, in one line, when it had any (or could not compare). */
  drift: string | undefined;
  /** The newest `lifeboat audit`: when, and what it found. */
  audit: { at: string; groups: number; files: number } | undefined;
}

export interface Digest {
  generatedAt: string;
  rows: DigestRow[];
  /** Hosts that need attention: stale, a failed run, a failed or missing drill. */
  attention: string[];
}

const TREND = 5;

async function digestRow(config: LifeboatConfig, policy: Policy, now: Date): Promise<DigestRow> {
  // The host's status, its newest drills and its newest audit: independent questions, asked together.
  const [status, drills, audit] = await Promise.all([
    hostStatus(config, policy, now),
    hostReports(config, policy.host, TREND, ["drill"]),
    newestAudit(config, policy),
  ]);
  const last = drills[0];
  return {
    host: policy.host,
    lastSnapshotAt: status.lastGoodSnapshot?.at,
    snapshotAgeSeconds: status.lastGoodSnapshot?.ageSeconds,
    rpoSeconds: policy.rpoSeconds,
    fresh: status.fresh,
    lastRunFailed: status.lastRun !== undefined && status.lastRun.outcome !== "succeeded",
    suspicious: status.suspicious?.reasons,
    copy: status.copy && {
      target: status.copy.target,
      newestAt: status.copy.newestAt,
      lastFailed: status.copy.lastFailed,
    },
    lastDrill: last && {
      runId: last.runId,
      at: last.startedAt,
      verdict: last.verdict,
      rtoSeconds: last.rto.seconds,
      rtoTargetSeconds: last.rto.targetSeconds,
    },
    rtoTrend: drills.map((d) => d.rto.seconds).reverse(),
    drift:
      last?.drift && (hasDrift(last.drift) || !last.drift.compared) ? driftSummary(last.drift) : undefined,
    audit: audit && {
      at: audit.at,
      groups: audit.groups.length,
      files: audit.groups.reduce((n, g) => n + g.files, 0),
    },
  };
}

export async function buildDigest(config: LifeboatConfig, now = new Date()): Promise<Digest> {
  const limit = pLimit(HOSTS_AT_ONCE);
  const rows = await Promise.all(
    (await requireValidPolicies(config)).map((policy) => limit(() => digestRow(config, policy, now))),
  );
  const attention = rows
    .filter(
      (r) =>
        !r.fresh ||
        r.lastRunFailed ||
        r.suspicious !== undefined ||
        r.copy?.lastFailed === true ||
        r.lastDrill?.verdict !== "passed" ||
        r.drift !== undefined ||
        (r.audit?.groups ?? 0) > 0,
    )
    .map((r) => r.host);
  return { generatedAt: now.toISOString(), rows, attention };
}

/** The audit and drift of a host in a few words: what the classification misses. */
function classification(r: DigestRow, now: string): string {
  const audit = r.audit
    ? r.audit.groups
      ? `audit ${age((Date.parse(now) - Date.parse(r.audit.at)) / 1000)}: ${r.audit.groups} unclassified (${r.audit.files} files)`
      : `audit ${age((Date.parse(now) - Date.parse(r.audit.at)) / 1000)}: clean`
    : "never audited";
  return `${audit}; ${r.drift ? `drift: ${r.drift}` : r.lastDrill ? "no drift" : "drift unknown"}`;
}

/** The copy's newest snapshot, in the same words as the host's own. */
function copyText(r: DigestRow, now: string): string {
  if (!r.copy) return "";
  const at = r.copy.newestAt ? age((Date.parse(now) - Date.parse(r.copy.newestAt)) / 1000) : "never";
  return `, in ${r.copy.target} ${at}${r.copy.lastFailed ? " (last copy FAILED)" : ""}`;
}

const age = (s: number | undefined): string => (s === undefined ? "never" : `${formatDuration(s)} ago`);
const trend = (xs: number[]): string => (xs.length ? xs.map((x) => formatDuration(x)).join(" → ") : "-");

function state(r: DigestRow): string {
  if (r.suspicious) return `SUSPICIOUS (${r.suspicious.join("; ")})`;
  if (!r.fresh) return "STALE";
  if (r.lastRunFailed) return "LAST RUN FAILED";
  if (!r.lastDrill) return "NEVER DRILLED";
  if (r.lastDrill.verdict === "failed") return "DRILL FAILED";
  if (r.drift) return "DRIFT";
  if (r.lastDrill.verdict === "passed-with-warnings") return "DRILL WARNINGS";
  return r.audit?.groups ? "UNCLASSIFIED DATA" : "ok";
}

export function digestSubject(d: Digest): string {
  return d.attention.length
    ? `[lifeboat] weekly digest: ${d.attention.length} of ${d.rows.length} hosts need attention (${d.attention.join(", ")})`
    : `[lifeboat] weekly digest: all ${d.rows.length} hosts ok`;
}

export function digestText(d: Digest): string {
  const lines = [digestSubject(d).replace("[lifeboat] ", ""), ""];
  for (const r of d.rows) {
    const drill = r.lastDrill
      ? `last drill ${verdictWords(r.lastDrill)} ${age((Date.parse(d.generatedAt) - Date.parse(r.lastDrill.at)) / 1000)}, RTO ${formatDuration(r.lastDrill.rtoSeconds)}${r.lastDrill.rtoTargetSeconds ? `/${formatDuration(r.lastDrill.rtoTargetSeconds)}` : ""}`
      : "never drilled";
    lines.push(
      `${r.host}: ${state(r)}; last snapshot ${age(r.snapshotAgeSeconds)} (RPO ${formatDuration(r.rpoSeconds)})${copyText(r, d.generatedAt)}; ${drill}; RTO trend ${trend(r.rtoTrend)}; ${classification(r, d.generatedAt)}`,
    );
  }
  return lines.join("\n");
}

export function digestHtml(d: Digest): string {
  const e = escapeHtml;
  const cell = "padding:4px 10px;border-bottom:1px solid #d0d7de;text-align:left";
  const rows = d.rows
    .map((r) => {
      const s = state(r);
      const color = s === "ok" ? "#1a7f37" : "#cf222e";
      return `<tr><td style="${cell}">${e(r.host)}</td><td style="${cell};color:${color};font-weight:600">${e(s)}</td><td style="${cell}">${e(age(r.snapshotAgeSeconds))} / RPO ${e(formatDuration(r.rpoSeconds))}</td><td style="${cell}">${r.lastDrill ? `${e(verdictWords(r.lastDrill))}, RTO ${e(formatDuration(r.lastDrill.rtoSeconds))}` : "never"}</td><td style="${cell}">${e(trend(r.rtoTrend))}</td><td style="${cell}">${e(classification(r, d.generatedAt))}</td></tr>`;
    })
    .join("");
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${e(digestSubject(d))}</title></head>` +
    `<body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#24292f">` +
    `<h2>${e(digestSubject(d).replace("[lifeboat] ", ""))}</h2>` +
    `<table cellpadding="0" cellspacing="0" style="border-collapse:collapse;font-size:14px">` +
    `<tr>${["Host", "State", "Last snapshot", "Last drill", "RTO trend", "Audit and drift"].map((h) => `<th style="${cell};background:#f6f8fa">${h}</th>`).join("")}</tr>${rows}</table>` +
    `<p style="color:#6e7781;font-size:12px">${e(d.generatedAt)}</p></body></html>`
  );
}
