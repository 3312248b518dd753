// Mail that must not be lost and must never decide a run's outcome: a message that cannot be sent is kept in
// the catalog as pending and sent again before the next one (and by `lifeboat mail retry`).
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { readCatalogJson } from "../catalog/read.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { loadPolicies } from "../policy/load.js";
import type { OutgoingMail } from "./message.js";

export type { OutgoingMail } from "./message.js";

export type Delivery = "sent" | "pending" | "off";

const stamp = (iso: string): string => iso.replace(/[:.]/g, "-");
const pendingKey = (m: OutgoingMail): string => `mail/pending/${stamp(m.createdAt)}_${m.id}.json`;
const sentKey = (id: string): string => `mail/sent/${id}.json`;
const idOf = (key: string): string | undefined => /_([a-z0-9]+)\.json$/.exec(key)?.[1];

export function newMail(fields: Omit<OutgoingMail, "id" | "createdAt">): OutgoingMail {
  return { id: randomBytes(6).toString("hex"), createdAt: new Date().toISOString(), ...fields };
}

// A pending message is read back from the bucket, so it is checked like any record there.
const pendingSchema = z.object({
  id: z.string().regex(/^[a-z0-9]+$/),
  kind: z.enum(["report", "alert", "digest", "test"]),
  host: z.string().optional(),
  createdAt: z.string(),
  to: z.array(z.string()).min(1),
  subject: z.string(),
  text: z.string(),
  html: z.string().optional(),
  attachments: z.array(z.object({ filename: z.string(), content: z.string(), contentType: z.string() })),
});

/**
 * Everyone Lifeboat may write to: the configuration's recipients and the policies' `notify`. A pending message
 * in the bucket is only a claim; its other recipients are dropped, so the controller's login mails no one else.
 */
async function allowedRecipients(config: LifeboatConfig): Promise<Set<string>> {
  const { policies } = await loadPolicies(config);
  return new Set(
    [...(config.mail?.to ?? []), ...policies.flatMap((p) => p.notify)].map((a) => a.toLowerCase()),
  );
}

/** The catalog that holds the outbox: the default target's. */
const outboxOf = (config: LifeboatConfig) => catalogFor(config, config.defaults.repository);

/** Sends a message now; SMTP failures throw. */
async function sendNow(
  config: LifeboatConfig,
  message: OutgoingMail,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const { sendSmtp } = await import("./smtp.js");
  return config.mail ? sendSmtp(config.mail, message, env) : "";
}

const markSent = (config: LifeboatConfig, message: OutgoingMail, messageId: string): Promise<void> =>
  outboxOf(config).put(
    sentKey(message.id),
    JSON.stringify({ id: message.id, sentAt: new Date().toISOString(), messageId }),
  );

/** Sends every pending message that was not sent yet, oldest first; returns how many went and how many wait. */
export async function flushOutbox(
  config: LifeboatConfig,
  logger?: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ sent: number; pending: number }> {
  if (!config.mail) return { sent: 0, pending: 0 };
  const outbox = outboxOf(config);
  const sentIds = new Set((await outbox.list("mail/sent/")).map((k) => /([a-z0-9]+)\.json$/.exec(k)?.[1]));
  const waiting = (await outbox.list("mail/pending/")).filter((k) => !sentIds.has(idOf(k)));
  let sent = 0;
  let dropped = 0;
  const allowed = waiting.length ? await allowedRecipients(config) : new Set<string>();
  for (const key of waiting) {
    const stored = await readCatalogJson(outbox, key, pendingSchema, logger);
    const to = stored?.to.filter((a) => allowed.has(a.toLowerCase())) ?? [];
    if (!stored || to.length === 0) {
      if (stored)
        logger?.warn(
          { key, to: stored.to },
          "pending mail names no recipient of this configuration; it is not sent",
        );
      // Recorded as done, so it is not read again at every round.
      await outbox.put(
        sentKey(idOf(key) ?? key),
        JSON.stringify({ refused: true, at: new Date().toISOString() }),
      );
      dropped++;
      continue;
    }
    if (to.length < stored.to.length)
      logger?.warn(
        { key, dropped: stored.to.filter((a) => !to.includes(a)) },
        "pending mail named recipients this configuration does not; they are left out",
      );
    const message: OutgoingMail = { ...stored, host: stored.host, html: stored.html, to };
    try {
      // Marked sent as soon as it went, so that it never goes twice.
      await markSent(config, message, await sendNow(config, message, env));
      sent++;
      logger?.info({ mail: message.id, subject: message.subject }, "pending mail sent");
    } catch (err) {
      logger?.warn({ mail: message.id, error: (err as Error).message }, "pending mail still cannot be sent");
      break; // the server is still away: the rest waits too, in order
    }
  }
  return { sent, pending: waiting.length - sent - dropped };
}

/**
 * Sends a message now, or keeps it as pending when that fails. Never throws: mail is told about, not waited on.
 */
export async function deliver(
  config: LifeboatConfig,
  message: OutgoingMail,
  logger?: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Delivery> {
  if (!config.mail) return "off";
  // Older mail goes first; but an outbox that cannot be read (the storage is down, which is just when an alert
  // matters) must not keep this message from going.
  try {
    await flushOutbox(config, logger, env);
  } catch (err) {
    logger?.warn(
      { error: (err as Error).message },
      "pending mail cannot be read now; sending this one anyway",
    );
  }
  try {
    await sendNow(config, message, env);
  } catch (err) {
    logger?.warn(
      { mail: message.id, error: (err as Error).message },
      "mail could not be sent; kept as pending in the catalog (`lifeboat mail retry` sends it)",
    );
    try {
      await outboxOf(config).put(pendingKey(message), JSON.stringify(message));
    } catch (storeErr) {
      logger?.error(
        { mail: message.id, subject: message.subject, error: (storeErr as Error).message },
        "mail could not be kept either: it is lost",
      );
    }
    return "pending";
  }
  logger?.info({ mail: message.id, to: message.to, subject: message.subject }, "mail sent");
  return "sent";
}
