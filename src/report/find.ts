// Reports from the catalog: the newest recoveries or drills of a host, or one run by id.
import { HostHistory } from "../catalog/history.js";
import type { RunRecord } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost, requireValidPolicies } from "../policy/load.js";
import { type RecoveryReport, recoveryReportSchema } from "./schema.js";

type ReportKind = "drill" | "recovery";

export const reportOf = (record: RunRecord | undefined): RecoveryReport | undefined => {
  const parsed = recoveryReportSchema.safeParse(record?.details?.report);
  return parsed.success ? parsed.data : undefined;
};

async function historyOf(config: LifeboatConfig, host: string): Promise<HostHistory> {
  const policy = await policyForHost(config, host);
  return new HostHistory(catalogFor(config, policy.repository), policy.host);
}

/** Newest first: the newest `limit` reports of a host's runs of `kinds`; only those records are read. */
export async function hostReports(
  config: LifeboatConfig,
  host: string,
  limit: number,
  kinds: readonly ReportKind[] = ["drill", "recovery"],
): Promise<RecoveryReport[]> {
  const history = await historyOf(config, host);
  const each = await Promise.all(
    kinds.map((kind) => history.newestN(kind, limit, { where: (r) => reportOf(r) !== undefined })),
  );
  return each
    .flat()
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
    .slice(0, limit)
    .flatMap((r) => reportOf(r) ?? []);
}

/** The report of run `runId` of `host`: found by the index's keys, then one record read. */
async function reportById(
  config: LifeboatConfig,
  host: string,
  runId: string,
): Promise<RecoveryReport | undefined> {
  const history = await historyOf(config, host);
  for (const kind of ["drill", "recovery"] as const)
    for await (const entry of history.index(kind, { firstPage: 100 }))
      if (entry.id === runId) return reportOf(await history.endRecord(entry));
  return undefined;
}

/** The report of run `runId` (any host), or the newest of `host`. */
export async function findReport(
  config: LifeboatConfig,
  options: { host?: string | undefined; runId?: string | undefined },
): Promise<RecoveryReport> {
  const hosts = options.host ? [options.host] : (await requireValidPolicies(config)).map((p) => p.host);
  for (const host of hosts) {
    const found = options.runId
      ? await reportById(config, host, options.runId)
      : (await hostReports(config, host, 1))[0];
    if (found) return found;
  }
  throw new LifeboatError(
    "SNAPSHOT_NOT_FOUND",
    options.runId
      ? `no recovery or drill report with run id ${options.runId}`
      : `no recovery or drill of ${options.host ?? "any host"} yet`,
    {
      hint: options.host
        ? `Run \`lifeboat drill --host ${options.host}\` to make one.`
        : "Name a host with --host, or run a drill first.",
    },
  );
}
