// Audits in the catalog: each one kept (audits/<host>/<time>.json), the newest read back by the digest.
import { z } from "zod";
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
  const key = `${prefix(policy.host)}${result.at.replace(/[:.]/g, "-")}.json`;
  await catalogFor(config, policy.repository).put(key, JSON.stringify(result));
}

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
  // Keys sort by time: the stamp is an ISO time with its separators replaced.
  const newest = (await catalog.list(prefix(policy.host))).sort().at(-1);
  return newest ? readCatalogJson(catalog, newest, auditSummarySchema) : undefined;
}
