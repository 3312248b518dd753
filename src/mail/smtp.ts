// Sending one message over SMTP with nodemailer. Loaded only when mail is sent, like the AWS SDK.
import { readFile } from "node:fs/promises";
import type { MailConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { OutgoingMail } from "./message.js";

/** The SMTP login from the environment; neither part is ever logged or stored. */
function smtpAuth(mail: MailConfig, env: NodeJS.ProcessEnv): { user: string; pass: string } | undefined {
  const { userEnv, passwordEnv } = mail.smtp;
  if (!userEnv && !passwordEnv) return undefined;
  const user = userEnv ? env[userEnv] : undefined;
  const pass = passwordEnv ? env[passwordEnv] : undefined;
  if (!user || !pass) {
    const missing = [userEnv && !user ? userEnv : "", passwordEnv && !pass ? passwordEnv : ""].filter(
      Boolean,
    );
    throw new LifeboatError(
      "CREDENTIALS_MISSING",
      `the SMTP login is not set: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} empty`,
      {
        hint: "Export the variables that lifeboat.yaml's mail.smtp.userEnv and passwordEnv name.",
      },
    );
  }
  return { user, pass };
}

export async function sendSmtp(
  mail: MailConfig,
  message: OutgoingMail,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const { createTransport } = await import("nodemailer");
  const { smtp } = mail;
  const timeout = smtp.timeoutSeconds * 1000;
  const auth = smtpAuth(mail, env);
  const transport = createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === "tls",
    requireTLS: smtp.security === "starttls",
    ignoreTLS: smtp.security === "none",
    ...(auth ? { auth } : {}),
    ...(smtp.caFile ? { tls: { ca: await readFile(smtp.caFile) } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  try {
    const info = await transport.sendMail({
      from: mail.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      ...(message.html ? { html: message.html } : {}),
      attachments: message.attachments.map((a) => ({
        filename: a.filename,
        content: a.content,
        contentType: a.contentType,
      })),
    });
    return String(info.messageId ?? "");
  } finally {
    transport.close();
  }
}
