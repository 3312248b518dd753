// Staged hosts: isolated copies of a host built from a changed runbook, kept until `stage down` or their TTL.
// The catalog is their list: what was staged (stages/<host>/<id>.json) and what was removed (<id>.down.json).
import type { Logger } from "pino";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { Policy } from "../policy/load.js";
import { openProvider } from "../provider/open.js";
import type { RecoveryReport } from "../report/schema.js";
import type { ProviderSpec } from "../runbook/load.js";

export interface StageRecord {
  id: string;
  host: string;
  machine: string;
  address: string | undefined;
  /** How the machine was made, so that another process can remove it. */
  provider: ProviderSpec;
  /** Where the runbook came from: the host's own, a file, or a git ref. */
  source: string;
  createdAt: string;
  expiresAt: string;
  withData: boolean;
  verdict: RecoveryReport["verdict"];
  checks: Array<{ name: string; status: string; detail: string }>;
  failure: string | undefined;
}

export interface StageState extends StageRecord {
  /** Set once removed: when, and why (down, expired). */
  removed: { at: string; reason: string } | undefined;
}

const key = (host: string, id: string, down = false) => `stages/${host}/${id}${down ? ".down" : ""}.json`;

export function stageRecord(
  report: RecoveryReport,
  provider: ProviderSpec,
  source: string,
  ttlSeconds: number,
): StageRecord {
  return {
    id: report.runId,
    host: report.host,
    machine: report.machine,
    address: report.address,
    provider,
    source,
    createdAt: report.startedAt,
    expiresAt: new Date(Date.parse(report.startedAt) + ttlSeconds * 1000).toISOString(),
    withData: report.withData,
    verdict: report.verdict,
    checks: report.checks.map((c) => ({ name: c.name, status: c.status, detail: c.detail })),
    failure: report.failure
      ? `${report.failure.step ?? report.failure.phase}: ${report.failure.message}`
      : undefined,
  };
}

export async function recordStage(config: LifeboatConfig, policy: Policy, stage: StageRecord): Promise<void> {
  await catalogFor(config, policy.repository).put(key(stage.host, stage.id), JSON.stringify(stage));
}

/** Every stage of these hosts, newest first, removed ones included (one listing per repository). */
export async function listStages(config: LifeboatConfig, policies: readonly Policy[]): Promise<StageState[]> {
  const out: StageState[] = [];
  const hosts = new Set(policies.map((p) => p.host));
  for (const repository of new Set(policies.map((p) => p.repository))) {
    const catalog = catalogFor(config, repository);
    const keys = await catalog.list("stages/");
    const downs = new Set(keys.filter((k) => k.endsWith(".down.json")));
    for (const k of keys.filter((x) => !x.endsWith(".down.json"))) {
      if (!hosts.has(k.split("/")[1] ?? "")) continue;
      const body = await catalog.get(k);
      if (!body) continue;
      const stage = JSON.parse(body) as StageRecord;
      const downKey = key(stage.host, stage.id, true);
      const down = downs.has(downKey) ? await catalog.get(downKey) : undefined;
      out.push({ ...stage, removed: down ? (JSON.parse(down) as StageState["removed"]) : undefined });
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Removes a stage's machine (and its network) and marks it removed in the catalog. */
export async function removeStage(
  config: LifeboatConfig,
  policy: Policy,
  stage: StageRecord,
  reason: "down" | "expired",
): Promise<void> {
  await openProvider(stage.provider).remove({
    name: stage.machine,
    address: stage.address,
    mode: "stage",
    runId: stage.id,
  });
  await catalogFor(config, policy.repository).put(
    key(stage.host, stage.id, true),
    JSON.stringify({ at: new Date().toISOString(), reason }),
  );
}

/** The stage with this id (or unique id prefix) among the hosts' stages that still stand. */
export async function findStage(
  config: LifeboatConfig,
  policies: readonly Policy[],
  id: string,
): Promise<{ stage: StageState; policy: Policy }> {
  const standing = (await listStages(config, policies)).filter((s) => !s.removed && s.id.startsWith(id));
  const [stage, second] = standing;
  if (!stage || second) {
    throw new LifeboatError(
      "USAGE",
      stage ? `${id} matches more than one stage: give more of its id` : `no standing stage has the id ${id}`,
      { hint: "`lifeboat stage list` shows the stages and their ids." },
    );
  }
  const policy = policies.find((p) => p.host === stage.host);
  if (!policy)
    throw new LifeboatError("HOST_UNKNOWN", `stage ${id} is of ${stage.host}, which has no policy now`, {
      hint: `Remove its machine ${stage.machine} by hand (for a container: podman rm -f ${stage.machine}).`,
    });
  return { stage, policy };
}

/** Removes every stage past its TTL; one that cannot be removed is logged and tried again next time. */
export async function removeExpiredStages(
  config: LifeboatConfig,
  policies: readonly Policy[],
  logger?: Logger,
  now = new Date(),
): Promise<string[]> {
  const removed: string[] = [];
  for (const stage of await listStages(config, policies)) {
    if (stage.removed || Date.parse(stage.expiresAt) > now.getTime()) continue;
    const policy = policies.find((p) => p.host === stage.host);
    if (!policy) continue;
    try {
      await removeStage(config, policy, stage, "expired");
      removed.push(stage.id);
      logger?.info({ host: stage.host, stage: stage.id, machine: stage.machine }, "removed an expired stage");
    } catch (err) {
      logger?.error(
        { host: stage.host, stage: stage.id, machine: stage.machine, error: (err as Error).message },
        "could not remove an expired stage",
      );
    }
  }
  return removed;
}
