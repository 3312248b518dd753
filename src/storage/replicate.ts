// The offsite copy: a target with `replicate: { to: offsite }` has every host's new snapshots copied to the other
// target by the controller (restic copy: only what is missing, so an interrupted copy loses nothing and the next
// one completes it). The vault's copy lives where the vault's disaster does not reach.
import type { Logger } from "pino";
import { recordRun } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost } from "../policy/load.js";
import { openRepository, targetOf } from "./repository.js";

export interface ReplicateOutcome {
  host: string;
  from: string;
  to: string;
  /** The host's snapshots in the copy, and the newest of them. */
  snapshots: number;
  newest: { id: string; time: string } | undefined;
}

export interface ReplicateOptions {
  config: LifeboatConfig;
  host: string;
  trigger?: "manual" | "schedule" | undefined;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

/** The target a host's snapshots are copied to, or undefined when its target keeps no copy. */
export function replicaOf(config: LifeboatConfig, targetName: string): string | undefined {
  return targetOf(config, targetName).replicateTo;
}

/** Copies the host's snapshots its target's copy lacks; recorded in the host's catalog as a `replicate` run. */
export async function replicateHost(options: ReplicateOptions): Promise<ReplicateOutcome> {
  const { config } = options;
  const policy = await policyForHost(config, options.host);
  const to = replicaOf(config, policy.repository);
  if (!to)
    throw new LifeboatError("USAGE", `target "${policy.repository}" of ${policy.host} keeps no copy`, {
      hint: `Add \`replicate: { to: <target> }\` to target ${policy.repository} in lifeboat.yaml.`,
    });
  return recordRun(
    {
      catalog: catalogFor(config, policy.repository),
      host: policy.host,
      kind: "replicate",
      trigger: options.trigger,
      logger: options.logger,
    },
    async () => {
      const common = { config, host: policy.host, logger: options.logger, signal: options.signal };
      const source = await openRepository({ ...common, targetName: policy.repository });
      const copy = await openRepository({ ...common, targetName: to, create: true, copyOf: source.repo });
      await copy.repo.copyFrom(source.repo, policy.host);
      const snapshots = await copy.repo.snapshots({ host: policy.host });
      const newest = snapshots.reduce<(typeof snapshots)[number] | undefined>(
        (a, s) => (!a || s.time > a.time ? s : a),
        undefined,
      );
      options.logger?.info({ host: policy.host, to, snapshots: snapshots.length }, "copy up to date");
      return {
        host: policy.host,
        from: policy.repository,
        to,
        snapshots: snapshots.length,
        newest: newest && { id: newest.id, time: newest.time },
      };
    },
    (o) => ({ details: { to: o.to, snapshots: o.snapshots, newest: o.newest } }),
  );
}
