// Reports from the catalog: the newest recovery or drill of a host, or one run by id.
import { listRuns, readRecord } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost, requireValidPolicies } from "../policy/load.js";
import { type RecoveryReport, recoveryReportSchema } from "./schema.js";

/** Newest first: every recovery and drill report of a host that the catalog holds (`limit` at most). */
export async function hostReports(
  config: LifeboatConfig,
  host: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<RecoveryReport[]> {
  const policy = await policyForHost(config, host);
  const catalog = catalogFor(config, policy.repository);
  const runs = (await listRuns(catalog, policy.host)).filter(
    (r) => (r.kind === "drill" || r.kind === "recovery") && r.endKey,
  );
  const reports: RecoveryReport[] = [];
  for (const run of runs.reverse()) {
    if (reports.length >= limit) break;
    const record = run.endKey ? await readRecord(catalog, run.endKey) : undefined;
    const parsed = recoveryReportSchema.safeParse(record?.details?.report);
    if (parsed.success) reports.push(parsed.data);
  }
  return reports;
}

/** The report of run `runId` (any host), or the newest of `host`. */
export async function findReport(
  config: LifeboatConfig,
  options: { host?: string | undefined; runId?: string | undefined },
): Promise<RecoveryReport> {
  const hosts = options.host ? [options.host] : (await requireValidPolicies(config)).map((p) => p.host);
  for (const host of hosts) {
    const reports = await hostReports(config, host, options.runId ? Number.POSITIVE_INFINITY : 1);
    const found = options.runId ? reports.find((r) => r.runId === options.runId) : reports[0];
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
