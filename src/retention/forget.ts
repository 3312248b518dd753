// Retention: forget (and prune) a host's snapshots by its policy's keep rules, grouped by host only, so a
// change of classification (a new policy digest tag) does not start a second, never-pruned group.
import type { Logger } from "pino";
import { recordRun } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { type Policy, policyForHost } from "../policy/load.js";
import { assertNothingSuspicious } from "../snapshot/guard.js";
import { LIFEBOAT_TAG } from "../snapshot/tags.js";
import { replicaOf } from "../storage/replicate.js";
import { openPolicyRepository, openRepository, repositoryExists } from "../storage/repository.js";

export interface ForgetOptions {
  config: LifeboatConfig;
  host: string;
  /** Show what would go; change nothing and record nothing. */
  dryRun?: boolean;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  /** Who started the run: a person (default) or the daemon's schedule; kept in the run record. */
  trigger?: "manual" | "schedule" | undefined;
}

export interface ForgetOutcome {
  host: string;
  dryRun: boolean;
  rules: Policy["retention"];
  kept: Array<{ id: string; time: string }>;
  removed: Array<{ id: string; time: string }>;
  resticVersion: string;
  /** The same rules applied to the offsite copy, when the target keeps one. */
  copy?: { target: string; kept: number; removed: number } | undefined;
}

export async function forget(options: ForgetOptions): Promise<ForgetOutcome> {
  const policy = await policyForHost(options.config, options.host);
  if (options.dryRun) return applyRetention(options, policy);
  const catalog = catalogFor(options.config, policy.repository);
  // After a suspicious snapshot the earlier ones may be all that is left of the data: kept until a person looks.
  await assertNothingSuspicious(catalog, policy.host);
  return recordRun(
    { catalog, host: policy.host, kind: "prune", trigger: options.trigger, logger: options.logger },
    () => applyRetention(options, policy),
    (o) => ({
      resticVersion: o.resticVersion,
      details: {
        rules: o.rules,
        kept: o.kept.map((s) => s.id),
        removed: o.removed.map((s) => s.id),
        ...(o.copy ? { copy: o.copy } : {}),
      },
    }),
  );
}

async function applyRetention(options: ForgetOptions, policy: Policy): Promise<ForgetOutcome> {
  const dryRun = options.dryRun ?? false;
  const opened = await openPolicyRepository(options.config, policy, {
    logger: options.logger,
    signal: options.signal,
  });
  const groups = await opened.repo.forget({
    host: policy.host,
    tags: [LIFEBOAT_TAG],
    keep: policy.retention,
    prune: true,
    dryRun,
  });
  const brief = (s: { id: string; time: string }) => ({ id: s.id, time: s.time });
  const kept = groups.flatMap((g) => g.keep ?? []).map(brief);
  const removed = groups.flatMap((g) => g.remove ?? []).map(brief);
  // The copy keeps by the same rules, or it would grow for ever; only once it exists.
  const to = replicaOf(options.config, policy.repository);
  let copy: ForgetOutcome["copy"];
  if (to && (await repositoryExists(options.config, to, policy.host))) {
    const replica = await openRepository({
      config: options.config,
      targetName: to,
      host: policy.host,
      logger: options.logger,
      signal: options.signal,
    });
    const there = await replica.repo.forget({
      host: policy.host,
      tags: [LIFEBOAT_TAG],
      keep: policy.retention,
      prune: true,
      dryRun,
    });
    copy = {
      target: to,
      kept: there.flatMap((g) => g.keep ?? []).length,
      removed: there.flatMap((g) => g.remove ?? []).length,
    };
  }
  options.logger?.info(
    { host: policy.host, kept: kept.length, removed: removed.length, dryRun },
    "retention applied",
  );
  return {
    host: policy.host,
    dryRun,
    rules: policy.retention,
    kept,
    removed,
    resticVersion: opened.resticVersion,
    copy,
  };
}
