// The runbook's restore step: restic on the new machine puts the irreplaceable files back where they were
// (verified), then each database dump is loaded into the freshly configured server, roles first.
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { Policy } from "../policy/load.js";
import type { ResticRepository } from "../restic/engine.js";
import { type HostRestic, resticOnHost } from "../restic/on-host.js";
import { loadAccounts, loadDatabase, loadRoles } from "../restore/load.js";
import { readSentinels, type Sentinel } from "../snapshot/sentinel.js";
import { isServerWideDump, MYSQL_ACCOUNTS_FILE, POSTGRES_ROLES_FILE } from "../snapshot/tags.js";
import { openPolicyRepository } from "../storage/repository.js";
import type { Transport } from "../transport/types.js";
import type { RecoveryPlan } from "./plan.js";

export interface RestoredData {
  files: number;
  bytes: number;
  databases: Array<{ engine: string; database: string; bytes: number | undefined }>;
  /** The sentinel read back from each restored irreplaceable root that has one. */
  sentinels: Map<string, Sentinel>;
  resticVersion: string;
  /** Whether Lifeboat copied its restic to the new machine for the restore. */
  resticCopied: boolean;
}

interface RestoreOptions {
  config: LifeboatConfig;
  policy: Policy;
  plan: RecoveryPlan;
  transport: Transport;
  timeoutSeconds: number;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

export async function restoreOntoHost(options: RestoreOptions): Promise<RestoredData> {
  const { policy, plan, transport } = options;
  const limit = AbortSignal.timeout(options.timeoutSeconds * 1000);
  const signal = options.signal ? AbortSignal.any([options.signal, limit]) : limit;
  const onHost = await resticOnHost(transport, {
    install: policy.installRestic,
    policyFile: policy.file,
    logger: options.logger,
  });
  try {
    const opened = await openPolicyRepository(options.config, policy, {
      onHost,
      signal,
      logger: options.logger,
    });
    const { files, bytes } = await restoreFiles(opened.repo, plan, transport.host);
    const databases = await loadDumps(opened.repo, onHost, { ...options, signal });
    const sentinels = await readSentinels(transport, plan.paths);
    return {
      files,
      bytes,
      databases,
      sentinels,
      resticVersion: onHost.version,
      resticCopied: onHost.installed,
    };
  } catch (err) {
    if (limit.aborted && !options.signal?.aborted) {
      throw new LifeboatError(
        "COMMAND_TIMEOUT",
        `the restore onto ${transport.host} did not finish within ${options.timeoutSeconds}s`,
        {
          hint: "Raise the restore step's timeout in the runbook, or look for slow storage.",
        },
      );
    }
    throw err;
  } finally {
    await onHost.cleanup();
  }
}

/** The files snapshot back where it was (`--target /`), verified; its counts of files and bytes. */
async function restoreFiles(
  repo: ResticRepository,
  plan: RecoveryPlan,
  host: string,
): Promise<{ files: number; bytes: number }> {
  if (plan.paths.length === 0 || !plan.snapshot) return { files: 0, bytes: 0 };
  const { summary, itemErrors } = await repo.restore({
    snapshot: plan.snapshot.id,
    target: "/",
    verify: true,
    host: plan.host,
  });
  const entries = (summary.files_restored ?? 0) + (summary.files_skipped ?? 0);
  if (itemErrors.length > 0 || entries !== (summary.total_files ?? 0)) {
    throw new LifeboatError(
      "RESTORE_VERIFY_FAILED",
      `restore of ${plan.snapshot.shortId} onto ${host} did not verify: ${entries} of ${summary.total_files ?? 0} entries, ${itemErrors.length} error(s)${itemErrors[0] ? ` (first: ${itemErrors[0].item ?? ""} ${itemErrors[0].error.message})` : ""}`,
      {
        hint: "Check free space on the new machine; if it fails again run `lifeboat check` on the repository.",
      },
    );
  }
  // The snapshot's count of files (restore's own total counts directories too); --verify checked each.
  return { files: plan.snapshot.files ?? summary.total_files ?? 0, bytes: summary.total_bytes ?? 0 };
}

/** Each dump of the run restored into the run's private directory on the machine and loaded, roles first. */
async function loadDumps(
  repo: ResticRepository,
  onHost: HostRestic,
  options: RestoreOptions & { signal: AbortSignal },
): Promise<RestoredData["databases"]> {
  const { plan, policy, transport, signal } = options;
  const databases: RestoredData["databases"] = [];
  if (plan.dumps.length === 0) return databases;
  const dir = `${await onHost.privateDir()}/dumps`;
  for (const dump of plan.dumps) {
    await repo.restore({ snapshot: dump.snapshotId, target: dir, verify: true, host: plan.host });
    const serverWide = isServerWideDump(dump.file);
    const source = policy.databases.find(
      (d) =>
        d.engine === dump.engine &&
        (d.databases === "all" || d.databases.includes(dump.database) || serverWide),
    );
    if (!source) {
      options.logger?.warn(
        { dump: dump.file },
        "the policy no longer names this database; its dump is not loaded",
      );
      continue;
    }
    const load = { transport, source, signal };
    if (dump.file === POSTGRES_ROLES_FILE) await loadRoles(load, `${dir}/${dump.file}`);
    else if (dump.file === MYSQL_ACCOUNTS_FILE) await loadAccounts(load, `${dir}/${dump.file}`);
    else await loadDatabase(load, dump.database, `${dir}/${dump.file}`);
    databases.push({ engine: dump.engine, database: dump.database, bytes: dump.bytes });
    options.logger?.info({ engine: dump.engine, database: dump.database }, "database loaded");
  }
  return databases;
}
