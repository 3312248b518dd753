// What Lifeboat mails: restore-test reports after recoveries and drills, and alerts when a snapshot fails.
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { reportHtml, reportSubject, reportText } from "../report/render.js";
import type { RecoveryReport } from "../report/schema.js";
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
