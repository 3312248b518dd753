// Audits in the catalog: each one kept (audits/<host>/<time>.json), the newest read back by the digest.
import { z } from "zod";
import { ENTRY_BODY, INDEX, invertedStamp, stampTime } from "../catalog/keys.js";
import { readCatalogJson } from "../catalog/read.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import type { Policy } from "../policy/load.js";
import type { AuditResult } from "./scan.js";

const prefix = (host: string): string => `audits/${host}/`;

export async function recordAudit(
  config: LifeboatConfig,
  policy: Policy,
  result: AuditResult,
): Promise<void> {
  const catalog = catalogFor(config, policy.repository);
  await catalog.put(auditKey(policy.host, result.at), JSON.stringify(result));
  await catalog.put(`${newestPrefix(policy.host)}${invertedStamp(result.at)}`, ENTRY_BODY);
}

const auditKey = (host: string, at: string): string => `${prefix(host)}${at.replace(/[:.]/g, "-")}.json`;
// The index (catalog/keys.ts): the newest audit is the first key, however many audits came before.
const newestPrefix = (host: string): string => `${INDEX}/${host}/audits/`;

// What the digest reads of an audit; the rest of the record is kept for people.
const auditSummarySchema = z.looseObject({
  host: z.string(),
  at: z.string(),
  groups: z.array(z.looseObject({ path: z.string(), files: z.number() })),
});
export type AuditSummary = z.infer<typeof auditSummarySchema>;

/** The host's newest audit, if it ever had one (and it is well formed). */
export async function newestAudit(config: LifeboatConfig, policy: Policy): Promise<AuditSummary | undefined> {
  const catalog = catalogFor(config, policy.repository);
  const first = (await catalog.listPage(newestPrefix(policy.host), { limit: 1 })).keys[0];
  const stamp = first?.slice(newestPrefix(policy.host).length);
  // Audits from before the index: their keys sort by time (an ISO time with its separators replaced).
  const newest =
    stamp && /^\d{13}$/.test(stamp)
      ? auditKey(policy.host, stampTime(stamp))
      : (await catalog.list(prefix(policy.host))).sort().at(-1);
  return newest ? readCatalogJson(catalog, newest, auditSummarySchema) : undefined;
}
