// `lifeboat snapshot`: back up only a host's irreplaceable data into its repository.
import type { Logger } from "pino";
import { type HeldLease, hostLease } from "../catalog/lease.js";
import { recordRun } from "../catalog/records.js";
import { type CatalogStore, catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { isLifeboatError, LifeboatError } from "../errors.js";
import { mailAlert } from "../mail/notify.js";
import { type Policy, policyForHost } from "../policy/load.js";
import type { BackupStatus } from "../restic/messages.js";
import { type HostRestic, resticOnHost } from "../restic/on-host.js";
import { type OpenedRepository, openPolicyRepository } from "../storage/repository.js";
import { describeTransport, openTransport } from "../transport/open.js";
import type { Transport } from "../transport/types.js";
import { withHostLock } from "../util/host-lock.js";
import { type DumpOutcome, snapshotDatabases } from "./dumps.js";
import { acceptHint, guardSnapshot, type Suspicion } from "./guard.js";
import { type HookRun, runHooks } from "./hooks.js";
import { snapshotSelection } from "./selection.js";
import { writeSentinels } from "./sentinel.js";
import { runTag } from "./tags.js";

/** Beyond the snapshot's time limit, for its records and alert: how long a dead run's lease still holds. */
const LEASE_MARGIN_SECONDS = 600;

export interface SnapshotOptions {
  config: LifeboatConfig;
  host: string;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: (status: BackupStatus) => void;
  /** Who started the run: a person (default) or the daemon's schedule; kept in the run record. */
  trigger?: "manual" | "schedule" | undefined;
}

export interface SnapshotOutcome {
  host: string;
  snapshotId: string;
  shortId: string;
  /** The snapshot of the irreplaceable paths; undefined for a host with databases only. */
  filesSnapshotId: string | undefined;
  /** One snapshot per database. */
  dumps: DumpOutcome[];
  target: string;
  repository: string;
  roots: string[];
  excludes: string[];
  tags: string[];
  startedAt: string;
  finishedAt: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  totalFiles: number;
  totalBytes: number;
  bytesAdded: number;
  resticVersion: string;
  /** How the host was reached: "local", "ssh deploy@10.0.0.5", "container web1". */
  transport: string;
  /** Whether Lifeboat copied its own restic to the host for this run. */
  resticCopied: boolean;
  /** Set when this snapshot created the repository and its key file. */
  createdKeyFile: string | undefined;
  repositoryCreated: boolean;
  /** Set when the guard holds this snapshot for a person (retention waits). */
  suspicious?: Suspicion | undefined;
  /** The policy's hooks that ran, with their exits and times. */
  hooks?: HookRun[] | undefined;
}

// Prints "missing <path>" or "link <path> -> <target>" for each irreplaceable path that is not the data itself.
const PRESENCE_CHECK =
  'for p; do if [ -L "$p" ]; then printf "link %s -> %s\\n" "$p" "$(readlink "$p")"; ' +
  'elif [ ! -e "$p" ]; then printf "missing %s\\n" "$p"; fi; done';

/**
 * Every irreplaceable path must exist on the host and be the data itself: restic stores a symlink as a link,
 * so a snapshot of a linked path would hold no data at all. Checked before restic runs, so nothing is written.
 */
async function assertIrreplaceableDataPresent(
  transport: Transport,
  paths: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const host = transport.host;
  const r = await transport.run(["sh", "-c", PRESENCE_CHECK, "lifeboat", ...paths], {
    timeoutMs: 60_000,
    signal,
  });
  if (r.exitCode !== 0) {
    throw new LifeboatError(
      "HOST_SETUP_FAILED",
      `cannot check the irreplaceable paths on ${host}: ${r.stderr.trim()}`,
      {
        hint: `Check that ${host} has a POSIX sh and that the login user can see the paths.`,
      },
    );
  }
  const lines = r.stdout.split("\n").filter(Boolean);
  const missing = lines.filter((l) => l.startsWith("missing ")).map((l) => l.slice("missing ".length));
  const links = lines.filter((l) => l.startsWith("link ")).map((l) => l.slice("link ".length));
  if (missing.length > 0) {
    throw new LifeboatError(
      "DATA_MISSING",
      `irreplaceable data of ${host} is missing: ${missing.join(", ")}`,
      {
        hint: "No snapshot was taken. If the data moved, update the policy; if it is gone, restore it from the last snapshot.",
        details: { missing },
      },
    );
  }
  if (links.length > 0) {
    throw new LifeboatError(
      "POLICY_INVALID",
      `irreplaceable paths of ${host} are symlinks: ${links.join(", ")}`,
      {
        hint: "restic would save the link, not the data. List the real paths the links point to in the policy.",
        details: { links },
      },
    );
  }
}

/** Snapshots a host and records the run in its target's catalog. */
export async function snapshot(options: SnapshotOptions): Promise<SnapshotOutcome> {
  const policy = await policyForHost(options.config, options.host);
  const catalog = catalogFor(options.config, policy.repository);
  // One snapshot of a host at a time on this controller, and across controllers sharing its target (the lease):
  // two first runs would each create its repository. A run that finds it taken never starts (no record, no
  // alert): the one holding it is the host's run.
  return withHostLock(options.config.stateDir, policy.host, "snapshot", async () => {
    let lease: HeldLease | undefined;
    let leaseFailure: unknown;
    try {
      lease = await hostLease(options.config, {
        targetName: policy.repository,
        host: policy.host,
        what: "snapshot",
        // If this run dies, its lease outlives it by no more than the run's own limit.
        ttlSeconds: policy.snapshotTimeoutSeconds + LEASE_MARGIN_SECONDS,
        logger: options.logger,
      });
    } catch (err) {
      if (isLifeboatError(err) && err.code === "HOST_BUSY") throw err;
      // Unreachable storage: the run fails as any snapshot then does, recorded (spooled) and alerted.
      leaseFailure = err;
    }
    try {
      return await snapshotRecorded(options, policy, catalog, leaseFailure);
    } finally {
      await lease?.release();
    }
  });
}

async function snapshotRecorded(
  options: SnapshotOptions,
  policy: Policy,
  catalog: CatalogStore,
  leaseFailure: unknown,
): Promise<SnapshotOutcome> {
  let runId: string | undefined;
  const hooks: HookRun[] = [];
  return recordRun(
    {
      catalog,
      host: policy.host,
      kind: "snapshot",
      trigger: options.trigger,
      logger: options.logger,
      learnt: () => (hooks.length ? { details: { hooks } } : {}),
    },
    async (run) => {
      runId = run.id;
      if (leaseFailure !== undefined) throw leaseFailure;
      const outcome = await snapshotPolicy(options, policy, run.id, hooks);
      return { ...outcome, suspicious: await judged(catalog, policy, outcome, options.logger) };
    },
    (o) => ({
      // What `restore` takes as the newest snapshot of the files; dumps are found by their tags.
      snapshotId: o.filesSnapshotId,
      details:
        o.dumps.length || o.suspicious
          ? {
              ...(o.dumps.length ? { dumps: o.dumps } : {}),
              ...(o.suspicious ? { suspicious: o.suspicious } : {}),
            }
          : undefined,
      bytesAdded: o.bytesAdded,
      filesNew: o.filesNew,
      filesChanged: o.filesChanged,
      totalFiles: o.totalFiles,
      totalBytes: o.totalBytes,
      resticVersion: o.resticVersion,
      transport: o.transport,
      resticCopied: o.resticCopied,
    }),
  )
    .then(async (outcome) => {
      // Saved, and held for a person: what ransomware's deletion or encryption looks like.
      if (outcome.suspicious) {
        await mailAlert(
          options.config,
          {
            host: policy.host,
            what: `snapshot ${outcome.shortId} is suspicious`,
            code: "SNAPSHOT_SUSPICIOUS",
            message: `${outcome.suspicious.reasons.join("; ")}, against snapshot ${outcome.suspicious.against.snapshotId.slice(0, 8)} of ${outcome.suspicious.against.at}. Retention is held; every earlier snapshot is kept.`,
            hint: acceptHint(policy.host, outcome.snapshotId),
            runId,
          },
          policy.notify,
          options.logger,
        );
      }
      return outcome;
    })
    .catch(async (err: unknown) => {
      // A failed snapshot is an alert (a person stopping it is not); the mail never changes the outcome.
      if (!(isLifeboatError(err) && err.code === "INTERRUPTED")) {
        await mailAlert(
          options.config,
          {
            host: policy.host,
            what: "snapshot failed",
            code: isLifeboatError(err) ? err.code : "INTERNAL",
            message: (err as Error).message,
            hint: isLifeboatError(err) ? err.hint : undefined,
            runId,
          },
          policy.notify,
          options.logger,
        );
      }
      throw err;
    });
}

/** The guard's verdict on a saved snapshot; a catalog it cannot read leaves it unjudged (and retention checks again). */
async function judged(
  catalog: CatalogStore,
  policy: Policy,
  o: SnapshotOutcome,
  logger: Logger | undefined,
): Promise<Suspicion | undefined> {
  if (!o.filesSnapshotId && o.dumps.length === 0) return undefined;
  try {
    return await guardSnapshot(catalog, policy.host, policy.guard, {
      files: o.totalFiles,
      bytes: o.totalBytes,
      changed: o.filesChanged,
      unmodified: o.filesUnmodified,
      dumps: o.dumps,
    });
  } catch (err) {
    logger?.warn(
      { host: policy.host, error: (err as Error).message },
      "could not compare with the previous snapshot",
    );
    return undefined;
  }
}

async function snapshotPolicy(
  options: SnapshotOptions,
  policy: Policy,
  runId: string,
  hooks: HookRun[],
): Promise<SnapshotOutcome> {
  // The time limit stops restic on the host too; the run fails with COMMAND_TIMEOUT, not "interrupted".
  const limit = new AbortController();
  const timer = setTimeout(
    () =>
      limit.abort(
        new LifeboatError(
          "COMMAND_TIMEOUT",
          `the snapshot of ${policy.host} did not finish within ${policy.snapshotTimeout}; restic was stopped`,
          {
            hint: "Nothing partial was saved as a snapshot. Look for a slow host or storage, or raise snapshotTimeout in the policy or lifeboat.yaml.",
          },
        ),
      ),
    policy.snapshotTimeoutSeconds * 1000,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, limit.signal]) : limit.signal;
  const transport = await openTransport(policy.host, policy.transport);
  const hookContext = { transport, host: policy.host, runId, logger: options.logger };
  let ended: { outcome: "succeeded" | "failed"; errorCode?: string } = { outcome: "succeeded" };
  try {
    // Before the presence check: a hook may be what writes the data (an export, Redis's SAVE).
    await runHooks({ ...hookContext, signal }, "before", policy.hooks.before, hooks);
    const outcome = await snapshotWithRestic(options, policy, runId, transport, signal);
    return { ...outcome, hooks };
  } catch (err) {
    ended = { outcome: "failed", errorCode: isLifeboatError(err) ? err.code : "INTERNAL" };
    // Also after a stop or the time limit (each hook has its own): e.g. to restart what `before` stopped.
    await runHooks(hookContext, "onError", policy.hooks.onError, hooks, ended);
    throw err;
  } finally {
    clearTimeout(timer);
    await runHooks(hookContext, "after", policy.hooks.after, hooks, ended);
  }
}

/** What a run whose dumps failed still saved: said in its error, so nobody thinks the host went unsaved. */
function savedAnyway(filesSnapshot: string | undefined, dumpsSaved: number): string {
  const saved = [
    ...(filesSnapshot ? [`the files (snapshot ${filesSnapshot.slice(0, 8)})`] : []),
    ...(dumpsSaved > 0 ? [`${dumpsSaved} other dump(s)`] : []),
  ];
  return saved.length ? `. Still saved: ${saved.join(" and ")}` : "";
}

/** The presence check, restic on the host, the repository proven, the sentinels, then restic's backup. */
async function snapshotWithRestic(
  options: SnapshotOptions,
  policy: Policy,
  runId: string,
  transport: Transport,
  signal: AbortSignal,
): Promise<SnapshotOutcome> {
  let onHost: HostRestic | undefined;
  // Both are round trips to the host and independent: run them side by side.
  const present = assertIrreplaceableDataPresent(
    transport,
    policy.entries.filter((e) => e.dataClass === "irreplaceable").map((e) => e.path),
    signal,
  );
  present.catch(() => {}); // awaited below; a failure of resticOnHost must not leave it unhandled
  try {
    if (transport.kind !== "local") {
      onHost = await resticOnHost(transport, {
        install: policy.installRestic,
        policyFile: policy.file,
        logger: options.logger,
      });
    }
    await present;
    // The sentinels go into the live data only once this run can save them: the repository opens with its key.
    const opened = await openProven(options, policy, onHost, signal);
    await writeSentinels(
      transport,
      snapshotSelection(policy).roots,
      { host: policy.host, runId },
      options.logger,
    );
    return await snapshotOnHost({ ...options, signal }, policy, transport, opened, onHost, runId);
  } finally {
    await onHost?.cleanup();
  }
}

/** The host's repository, created on first use, its key proven. */
async function openProven(
  options: SnapshotOptions,
  policy: Policy,
  onHost: HostRestic | undefined,
  signal: AbortSignal,
): Promise<OpenedRepository> {
  return openPolicyRepository(options.config, policy, {
    create: true,
    prove: true,
    logger: options.logger?.child({ host: policy.host }),
    signal,
    onHost,
  });
}

async function snapshotOnHost(
  options: SnapshotOptions,
  policy: Policy,
  transport: Transport,
  opened: OpenedRepository,
  onHost: HostRestic | undefined,
  runId: string,
): Promise<SnapshotOutcome> {
  const startedAt = new Date().toISOString();
  const selection = snapshotSelection(policy);
  // Every snapshot of one run carries its id: a recovery restores the files and the dumps of the same run.
  const tags = [...selection.tags, runTag(runId)];
  const logger = options.logger?.child({ host: policy.host });
  logger?.info(
    {
      roots: selection.roots,
      excludes: selection.excludes.length,
      databases: policy.databases.length,
      transport: describeTransport(policy.transport),
    },
    "snapshot started",
  );
  // The files first (one snapshot of every irreplaceable path), then one snapshot per database.
  const files =
    selection.roots.length === 0
      ? undefined
      : await opened.repo.backup({
          paths: selection.roots,
          excludes: selection.excludes,
          host: policy.host,
          tags,
          onStatus: options.onProgress,
          onItemError: (e) =>
            logger?.warn({ item: e.item, during: e.during, error: e.error.message }, "could not read"),
        });
  const { dumps, failures } = await snapshotDatabases({
    repo: opened.repo,
    transport,
    host: policy.host,
    sources: policy.databases,
    runId,
    logger,
  });
  const s = files?.summary;
  const mainId = files?.snapshotId ?? dumps.at(-1)?.snapshotId ?? "";
  const outcome: SnapshotOutcome = {
    host: policy.host,
    snapshotId: mainId,
    shortId: mainId.slice(0, 8),
    filesSnapshotId: files?.snapshotId,
    dumps,
    target: policy.repository,
    repository: opened.location,
    roots: selection.roots,
    excludes: selection.excludes,
    tags,
    startedAt,
    finishedAt: new Date().toISOString(),
    // The files snapshot's own figures (restore verifies against them); each dump has its own in `dumps`.
    filesNew: s?.files_new ?? 0,
    filesChanged: s?.files_changed ?? 0,
    filesUnmodified: s?.files_unmodified ?? 0,
    totalFiles: s?.total_files_processed ?? 0,
    totalBytes: s?.total_bytes_processed ?? 0,
    bytesAdded: s?.data_added ?? 0,
    resticVersion: opened.resticVersion,
    transport: describeTransport(policy.transport),
    resticCopied: onHost?.installed ?? false,
    createdKeyFile: opened.created?.keyFile,
    repositoryCreated: opened.created !== undefined,
  };
  if (failures.length > 0) {
    const first = failures[0]?.error;
    const names = failures.map((f) => `${f.engine} ${f.database}`).join(", ");
    throw new LifeboatError(
      failures.every((f) => f.error.code === first?.code) && first ? first.code : "DUMP_FAILED",
      `${failures.length} database dump(s) of ${policy.host} failed (${names}): ${failures.map((f) => f.error.message).join("; ")}` +
        savedAnyway(files?.snapshotId, dumps.length),
      {
        hint:
          first?.hint ??
          "Nothing was saved for them; their previous snapshots are untouched. The other data was snapshotted.",
        details: { outcome, failed: failures.map((f) => ({ ...f, error: f.error.toJSON() })) },
      },
    );
  }
  if (files?.incomplete) {
    const unread = files.itemErrors.map((e) => e.item ?? e.error.message);
    throw new LifeboatError(
      "SNAPSHOT_INCOMPLETE",
      `snapshot ${files.snapshotId.slice(0, 8)} of ${policy.host} is incomplete: ${unread.length} item(s) could not be read`,
      {
        hint: "The snapshot was saved without them. Fix their permissions or remove them from the policy, then snapshot again.",
        details: { outcome, unread: unread.slice(0, 50) },
      },
    );
  }
  logger?.info(
    {
      snapshot: outcome.shortId,
      dumps: dumps.length,
      bytesAdded: outcome.bytesAdded,
      files: outcome.totalFiles,
    },
    "snapshot done",
  );
  return outcome;
}
