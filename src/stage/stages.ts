// Staged hosts: isolated copies of a host built from a changed runbook, kept until `stage down` or their TTL.
// The catalog is their list: what was staged (stages/<host>/<id>.json) and what was removed (<id>.down.json).
import type { Logger } from "pino";
import { z } from "zod";
import { type MalformedSink, readCatalogJson, warnMalformed } from "../catalog/read.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { Policy } from "../policy/load.js";
import { openProvider } from "../provider/open.js";
import type { RecoveryReport } from "../report/schema.js";
import { requireRunbook } from "../runbook/load.js";

// A record says which machine a stage is, never how to remove it: that comes from the host's runbook on this
// controller, and the provider removes only what this controller made for that run.
const stageRecordSchema = z.object({
  id: z.string().regex(/^[a-f0-9]{12}$/),
  host: z.string(),
  machine: z.string(),
  address: z.string().optional(),
  /** The provider's kind when it was made: removal refuses a runbook whose provider changed since. */
  providerKind: z.enum(["container", "ssh", "command", "vm"]),
  /** Where the runbook came from: the host's own, a file, or a git ref. */
  source: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  withData: z.boolean(),
  verdict: z.enum(["passed", "passed-with-warnings", "failed"]),
  checks: z.array(z.object({ name: z.string(), status: z.string(), detail: z.string() })),
  failure: z.string().optional(),
});
export type StageRecord = z.infer<typeof stageRecordSchema>;
const removedSchema = z.object({ at: z.string(), reason: z.string() });

export interface StageState extends StageRecord {
  /** Set once removed: when, and why (down, expired). */
  removed: { at: string; reason: string } | undefined;
}

const key = (host: string, id: string, down = false) => `stages/${host}/${id}${down ? ".down" : ""}.json`;

export function stageRecord(
  report: RecoveryReport,
  providerKind: StageRecord["providerKind"],
  source: string,
  ttlSeconds: number,
): StageRecord {
  return {
    id: report.runId,
    host: report.host,
    machine: report.machine,
    ...(report.address ? { address: report.address } : {}),
    providerKind,
    source,
    createdAt: report.startedAt,
    expiresAt: new Date(Date.parse(report.startedAt) + ttlSeconds * 1000).toISOString(),
    withData: report.withData,
    verdict: report.verdict,
    checks: report.checks.map((c) => ({ name: c.name, status: c.status, detail: c.detail })),
    ...(report.failure
      ? { failure: `${report.failure.step ?? report.failure.phase}: ${report.failure.message}` }
      : {}),
  };
}

export async function recordStage(config: LifeboatConfig, policy: Policy, stage: StageRecord): Promise<void> {
  await catalogFor(config, policy.repository).put(key(stage.host, stage.id), JSON.stringify(stage));
}

/** Every stage of these hosts, newest first, removed ones included (one listing per repository). */
export async function listStages(
  config: LifeboatConfig,
  policies: readonly Policy[],
  sink?: MalformedSink,
): Promise<StageState[]> {
  const out: StageState[] = [];
  const hosts = new Set(policies.map((p) => p.host));
  for (const repository of new Set(policies.map((p) => p.repository))) {
    const catalog = catalogFor(config, repository);
    const keys = await catalog.list("stages/");
    const downs = new Set(keys.filter((k) => k.endsWith(".down.json")));
    for (const k of keys.filter((x) => !x.endsWith(".down.json"))) {
      const host = k.split("/")[1] ?? "";
      if (!hosts.has(host)) continue;
      const stage = await readCatalogJson(catalog, k, stageRecordSchema, sink);
      if (!stage) continue;
      // The key says whose stage it is; the machine's name follows from host and id, as the stage made it.
      if (k !== key(host, stage.id) || stage.host !== host || stage.machine !== `${host}-stage-${stage.id}`) {
        warnMalformed(sink, k, "its host, id or machine does not match its key");
        continue;
      }
      const downKey = key(stage.host, stage.id, true);
      const removed = downs.has(downKey)
        ? await readCatalogJson(catalog, downKey, removedSchema, sink)
        : undefined;
      out.push({ ...stage, removed });
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Removes a stage's machine (and its network) with the host's runbook on this controller; marks it removed. */
export async function removeStage(
  config: LifeboatConfig,
  policy: Policy,
  stage: StageRecord,
  reason: "down" | "expired",
): Promise<void> {
  const runbook = await requireRunbook(config, policy);
  if (runbook.provider.kind !== stage.providerKind)
    throw new LifeboatError(
      "MACHINE_NOT_OURS",
      `stage ${stage.id} was made by the ${stage.providerKind} provider; ${policy.host}'s runbook now uses ${runbook.provider.kind}`,
      {
        hint: `Remove its machine ${stage.machine} by hand, then \`lifeboat stage down ${stage.id} --forget\`.`,
      },
    );
  await openProvider(runbook.provider, config).remove({
    name: stage.machine,
    address: stage.address,
    mode: "stage",
    runId: stage.id,
  });
  await markRemoved(config, policy, stage, reason);
}

/** Marks a stage removed without touching its machine: one a person removed by hand. */
export async function markRemoved(
  config: LifeboatConfig,
  policy: Policy,
  stage: StageRecord,
  reason: "down" | "expired" | "forgotten",
): Promise<void> {
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
