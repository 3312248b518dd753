// `lifeboat init`: make every target ready before the first snapshot: a repository key where Lifeboat keeps
// one (never replacing an existing key), storage reachable, and a repository for every host.

import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { hostLease } from "../catalog/lease.js";
import type { LifeboatConfig, TargetConfig } from "../config/load.js";
import { requireValidPolicies } from "../policy/load.js";
import { generateKeyFile, resolvePassword } from "../storage/password.js";
import { openRepository, repositoryExists } from "../storage/repository.js";
import { withHostLock } from "../util/host-lock.js";

/** How long an init's lease holds if it dies: creating one repository takes seconds. */
const INIT_LEASE_SECONDS = 600;

export interface InitOutcome {
  targets: Array<{
    target: string;
    keyFile: string | undefined;
    keyGenerated: boolean;
    passwordEnv: string | undefined;
    hosts: Array<{ host: string; repository: "created" | "existed" }>;
  }>;
}

export async function init(options: {
  config: LifeboatConfig;
  target?: string | undefined;
  logger?: Logger | undefined;
}): Promise<InitOutcome> {
  const policies = await requireValidPolicies(options.config);
  const targets = [...options.config.targets.values()].filter(
    (t) => !options.target || t.name === options.target,
  );
  const out: InitOutcome = { targets: [] };
  for (const target of targets) {
    const keyGenerated = await ensureKey(target);
    await resolvePassword(target.password); // a missing passwordEnv fails here, before any repository work
    const hosts: InitOutcome["targets"][number]["hosts"] = [];
    for (const p of policies.filter((p) => p.repository === target.name)) {
      // Under the host's lock: a snapshot of the host starting now would create the repository too.
      // And under its lease: another controller sharing this target may be creating it at this moment.
      const existed = await withHostLock(options.config.stateDir, p.host, "init", async () => {
        const lease = await hostLease(options.config, {
          targetName: target.name,
          host: p.host,
          what: "init",
          ttlSeconds: INIT_LEASE_SECONDS,
          logger: options.logger,
        });
        try {
          const there = await repositoryExists(options.config, target.name, p.host);
          // A host whose restic runs there gets its own key (an existing repository gains one: the migration).
          const hostKey = p.transport.kind !== "local";
          if (!there || hostKey)
            await openRepository({
              config: options.config,
              targetName: target.name,
              host: p.host,
              create: true,
              hostKey,
              logger: options.logger,
            });
          return there;
        } finally {
          await lease.release();
        }
      });
      hosts.push({ host: p.host, repository: existed ? "existed" : "created" });
    }
    out.targets.push({
      target: target.name,
      keyFile: target.password.kind === "file" ? target.password.path : undefined,
      keyGenerated,
      passwordEnv: target.password.kind === "env" ? target.password.variable : undefined,
      hosts,
    });
  }
  return out;
}

/** A key file is generated only where none exists; an existing key is never replaced. */
async function ensureKey(target: TargetConfig): Promise<boolean> {
  if (target.password.kind !== "file" || existsSync(target.password.path)) return false;
  await generateKeyFile(target.password.path);
  return true;
}
