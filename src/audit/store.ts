// Audits in the catalog: each one kept (audits/<host>/<time>.json), the newest read back by the digest.
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

/** The host's newest audit, if it ever had one. */
export async function newestAudit(config: LifeboatConfig, policy: Policy): Promise<AuditResult | undefined> {
  const catalog = catalogFor(config, policy.repository);
  // Keys sort by time: the stamp is an ISO time with its separators replaced.
  const newest = (await catalog.list(prefix(policy.host))).sort().at(-1);
  const body = newest ? await catalog.get(newest) : undefined;
  return body ? (JSON.parse(body) as AuditResult) : undefined;
}
