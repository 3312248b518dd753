// What Lifeboat mails: restore-test reports after recoveries and drills, and alerts when a snapshot fails.
import type { Logger } from "pino";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { policyForHost } from "../policy/load.js";
import { type Digest, digestHtml, digestSubject, digestText } from "../report/digest.js";
import { reportHtml, reportSubject, reportText } from "../report/render.js";
import type { RecoveryReport } from "../report/schema.js";
import type { HostStatus } from "../status/status.js";
import { formatDuration } from "../util/duration.js";
import { type Delivery, deliver, newMail } from "./outbox.js";

const recipients = (config: LifeboatConfig, notify: readonly string[] = []): string[] => [
  ...new Set([...(config.mail?.to ?? []), ...notify]),
];

/** Mails a recovery's or drill's report (HTML, text and the JSON attached); "failures" sends failed ones only. */
export async function mailReport(
  config: LifeboatConfig,
  report: RecoveryReport,
  notify: readonly string[],
  logger?: Logger,
): Promise<Delivery> {
  if (!config.mail || (config.mail.reports === "failures" && report.verdict === "passed")) return "off";
  return deliver(
    config,
    newMail({
      kind: "report",
      host: report.host,
      to: recipients(config, notify),
      subject: reportSubject(report),
      text: reportText(report),
      html: reportHtml(report),
      attachments: [
        {
          filename: `lifeboat-${report.mode}-${report.host}-${report.runId}.json`,
          content: JSON.stringify(report, null, 2),
          contentType: "application/json",
        },
      ],
    }),
    logger,
  );
}

export interface Alert {
  host: string;
  /** "snapshot failed", "is stale" ... */
  what: string;
  code: string;
  message: string;
  hint?: string | undefined;
  runId?: string | undefined;
}

export async function mailAlert(
  config: LifeboatConfig,
  alert: Alert,
  notify: readonly string[],
  logger?: Logger,
): Promise<Delivery> {
  if (!config.mail?.alerts) return "off";
  const text = [
    `${alert.host}: ${alert.what} (${alert.code})`,
    "",
    alert.message,
    ...(alert.hint ? ["", `What to do: ${alert.hint}`] : []),
    "",
    `${alert.runId ? `Run ${alert.runId}, ` : ""}${new Date().toISOString()}. \`lifeboat status --host ${alert.host}\` shows the host's state.`,
  ].join("\n");
  return deliver(
    config,
    newMail({
      kind: "alert",
      host: alert.host,
      to: recipients(config, notify),
      subject: `[lifeboat] ALERT ${alert.host}: ${alert.what} (${alert.code})`,
      text,
      html: undefined,
      attachments: [],
    }),
    logger,
  );
}

/** Mails the digest to the global recipients. */
export async function mailDigest(config: LifeboatConfig, digest: Digest, logger?: Logger): Promise<Delivery> {
  if (!config.mail) return "off";
  return deliver(
    config,
    newMail({
      kind: "digest",
      host: undefined,
      to: recipients(config),
      subject: digestSubject(digest),
      text: digestText(digest),
      html: digestHtml(digest),
      attachments: [],
    }),
    logger,
  );
}

/**
 * One alert per stale episode for each host whose newest good snapshot is older than its RPO: a marker in the
 * catalog (per host and newest good snapshot) keeps a cron'd `status --alert` from mailing every run.
 */
export async function alertStaleHosts(
  config: LifeboatConfig,
  statuses: readonly HostStatus[],
  logger?: Logger,
): Promise<string[]> {
  if (!config.mail?.alerts) return [];
  const alerted: string[] = [];
  for (const s of statuses.filter((h) => !h.fresh)) {
    const policy = await policyForHost(config, s.host);
    const catalog = catalogFor(config, policy.repository);
    const marker = `mail/alerts/${s.host}/stale-${s.lastGoodSnapshot?.snapshotId.slice(0, 12) || "none"}.json`;
    if (await catalog.get(marker)) continue;
    const delivery = await mailAlert(
      config,
      {
        host: s.host,
        what: "is stale",
        code: "STALE",
        message: s.lastGoodSnapshot
          ? `The newest good snapshot of ${s.host} is ${formatDuration(s.lastGoodSnapshot.ageSeconds)} old (from ${s.lastGoodSnapshot.at}); its RPO is ${s.rpo}.`
          : `${s.host} has no good snapshot at all; its RPO is ${s.rpo}.`,
        hint: `Look at its last run (\`lifeboat status --host ${s.host}\`) and snapshot it: \`lifeboat snapshot --host ${s.host}\`.`,
      },
      policy.notify,
      logger,
    );
    if (delivery !== "off") {
      await catalog.put(marker, JSON.stringify({ host: s.host, at: new Date().toISOString(), delivery }));
      alerted.push(s.host);
    }
  }
  return alerted;
}
