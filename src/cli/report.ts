// `lifeboat report` (a recovery's or drill's report, in the terminal or as HTML) and `lifeboat mail` (retry
// pending mail, send a test message).
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import type { LifeboatConfig, MailConfig } from "../config/load.js";
import { ExitCode, LifeboatError } from "../errors.js";
import { mailDigest } from "../mail/notify.js";
import { deliver, flushOutbox, newMail } from "../mail/outbox.js";
import { buildDigest, digestText } from "../report/digest.js";
import { findReport } from "../report/find.js";
import { reportHtml, reportText } from "../report/render.js";
import type { CommandRunner } from "./context.js";

/** The config, when it says where mail goes; else a usage error saying how to set it up. */
function withMail(config: LifeboatConfig): LifeboatConfig & { mail: MailConfig } {
  if (!config.mail)
    throw new LifeboatError("CONFIG_INVALID", "lifeboat.yaml has no mail: section", {
      hint: "Add mail: with smtp, from and to (README: lifeboat.yaml).",
    });
  return config as LifeboatConfig & { mail: MailConfig };
}

export function registerReport(program: Command, run: CommandRunner): void {
  program
    .command("report")
    .description(
      "print the report of the newest recovery or drill of a host (or of one run), or write it as HTML",
    )
    .option("--host <host>", "the host, as named in its policy")
    .option("--run <id>", "the run id of a recovery or drill")
    .option("--html <file>", "write the report as HTML (what the email shows) to this file")
    .action((opts: { host?: string; run?: string; html?: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const report = await findReport(config, { host: opts.host, runId: opts.run });
        if (opts.html) {
          await writeFile(opts.html, reportHtml(report));
          ctx.print(
            { written: opts.html, report },
            () => `wrote the report of run ${report.runId} to ${opts.html}`,
          );
          return;
        }
        ctx.print(report, () => reportText(report));
      }),
    );

  program
    .command("digest")
    .description(
      "every host at a glance: last snapshot against its RPO, last drill and its verdict, the RTO trend",
    )
    .option("--send", "mail it to lifeboat.yaml's mail.to (the daemon will do this weekly)")
    .addHelpText("after", "\nExit status: 0 when every host is fine, 9 when any needs attention.")
    .action((opts: { send?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const digest = await buildDigest(config);
        const delivery = opts.send ? await mailDigest(config, digest, ctx.logger) : undefined;
        ctx.print(
          { ...digest, delivery },
          () => digestText(digest) + (delivery ? `\n\nmail: ${delivery}` : ""),
        );
        return digest.attention.length ? ExitCode.degraded : ExitCode.ok;
      }),
    );

  const mail = program.command("mail").description("the mail that carries reports and alerts");
  mail
    .command("retry")
    .description("send the mail that could not be sent before (kept as pending in the catalog)")
    .action(() =>
      run(async (ctx) => {
        const config = withMail(await ctx.loadConfig());
        const result = await flushOutbox(config, ctx.logger);
        ctx.print(result, () => `${result.sent} pending message(s) sent, ${result.pending} still waiting`);
        return result.pending > 0 ? 1 : 0;
      }),
    );
  mail
    .command("test")
    .description("send a test message to the configured recipients, now")
    .action(() =>
      run(async (ctx) => {
        const config = withMail(await ctx.loadConfig());
        const delivery = await deliver(
          config,
          newMail({
            kind: "test",
            host: undefined,
            to: config.mail.to,
            subject: "[lifeboat] test message",
            text: `Lifeboat can send mail from ${config.mail.from} through ${config.mail.smtp.host}:${config.mail.smtp.port}.`,
            html: undefined,
            attachments: [],
          }),
          ctx.logger,
        );
        ctx.print({ delivery }, () =>
          delivery === "sent"
            ? `sent to ${config.mail?.to.join(", ")}`
            : "could not be sent: kept as pending (see the log above)",
        );
        return delivery === "sent" ? 0 : 1;
      }),
    );
}
