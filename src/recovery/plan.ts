// What a recovery or drill will do, worked out before anything is provisioned: the runbook is valid, the
// repository opens with the key (a wrong password fails here), and the chosen snapshots exist.
import type { Logger } from "pino";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { DatabaseEngine } from "../policy/databases.js";
import type { Policy } from "../policy/load.js";
import type { Snapshot } from "../restic/messages.js";
import type { Runbook } from "../runbook/load.js";
import { snapshotSelection } from "../snapshot/selection.js";
import { dumpFileOf, isServerWideDump, LIFEBOAT_TAG, parseDumpFile, runOf } from "../snapshot/tags.js";
import { openPolicyRepository } from "../storage/repository.js";
import type { Mode } from "./machine.js";

export interface PlannedDump {
  file: string;
  engine: DatabaseEngine;
  /** The database (for SQLite: the file's path), or "roles" for PostgreSQL's roles. */
  database: string;
  snapshotId: string;
  time: string;
  bytes: number | undefined;
  /** The snapshot run that saved it. */
  runId: string | undefined;
  /** 0 when it is of the chosen run; else how many snapshot runs newer than its own came before the chosen one. */
  runsAgo: number;
}

export interface RecoveryPlan {
  host: string;
  mode: Mode;
  provider: string;
  /** The machine's name: production's for a recovery, <host>-drill-<id> for a drill. */
  machine: string;
  snapshot:
    | {
        id: string;
        shortId: string;
        time: string;
        ageSeconds: number;
        files: number | undefined;
        bytes: number | undefined;
        /** The snapshot run it belongs to. */
        runId: string | undefined;
      }
    | undefined;
  dumps: PlannedDump[];
  /** The irreplaceable paths restored to where they were. */
  paths: string[];
  steps: Array<{
    name: string;
    kind: string /** done already in the baked image it starts from */;
    baked?: boolean;
  }>;
  checks: string[];
  rtoSeconds: number | undefined;
  rpoSeconds: number;
  resticVersion: string;
  /** The storage target the data comes from: the host's own, or its offsite copy (`--from`). */
  from?: string | undefined;
  /** From a baked image or from code, and why. */
  build?: { from: "code" | "image"; digest?: string | undefined; image?: string | undefined; why: string };
}

export interface PlanInputs {
  config: LifeboatConfig;
  policy: Policy;
  runbook: Runbook;
  mode: Mode;
  /** The machine's name (machineName) and how the provider describes it. */
  machine: string;
  provider: string;
  /** "latest" (default) or a snapshot id (prefix). */
  snapshot?: string | undefined;
  /** Build the machine without its data: no repository is needed. */
  noData?: boolean | undefined;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}

/** The SQLite files a policy dumps: their dump names are made from these paths. */
const sqlitePathsOf = (policy: Policy): string[] =>
  policy.databases.flatMap((d) => (d.engine === "sqlite" && d.databases !== "all" ? d.databases : []));

/**
 * The snapshots one recovery restores: the chosen one and the others of its snapshot run (the files and every
 * dump). A dump missing from that run (it failed that night) comes from the newest earlier run that has it.
 */
export function chooseSnapshots(
  all: Snapshot[],
  ref: string,
  policy: Policy,
): { files: Snapshot | undefined; dumps: Snapshot[] } {
  const sorted = [...all].sort((a, b) => a.time.localeCompare(b.time));
  const hasPaths = snapshotSelection(policy).roots.length > 0;
  let anchor: Snapshot | undefined;
  if (ref === "latest") {
    anchor = hasPaths ? sorted.filter((s) => !dumpFileOf(s)).at(-1) : sorted.at(-1);
    if (!anchor) {
      throw new LifeboatError("SNAPSHOT_NOT_FOUND", `host ${policy.host} has no snapshots to recover from`, {
        hint: `Run \`lifeboat snapshot --host ${policy.host}\` first; nothing was provisioned.`,
      });
    }
  } else {
    const found = sorted.filter((s) => s.id.startsWith(ref));
    if (found.length !== 1) {
      throw new LifeboatError(
        "SNAPSHOT_NOT_FOUND",
        found.length === 0
          ? `host ${policy.host} has no snapshot ${ref}`
          : `snapshot id ${ref} is ambiguous for host ${policy.host}`,
        {
          hint: `Run \`lifeboat snapshots --host ${policy.host}\` and pass an id from it, or "latest"; nothing was provisioned.`,
        },
      );
    }
    anchor = found[0];
  }
  if (!anchor) throw new LifeboatError("INTERNAL", "no snapshot chosen");
  const run = runOf(anchor);
  const group = run ? sorted.filter((s) => runOf(s) === run) : [anchor];
  const files = group.find((s) => !dumpFileOf(s));
  if (hasPaths && !files) {
    throw new LifeboatError(
      "SNAPSHOT_NOT_FOUND",
      `snapshot ${anchor.short_id} of ${policy.host} is a database dump; its run saved no files`,
      {
        hint: "Pass the id of a files snapshot (`lifeboat snapshots`), or latest.",
      },
    );
  }
  const dumps = new Map<string, Snapshot>();
  for (const s of group) {
    const file = dumpFileOf(s);
    if (file) dumps.set(file, s);
  }
  // Untagged (older) runs: their dumps follow the files within the snapshot time limit.
  const until = run
    ? anchor.time
    : new Date(Date.parse(anchor.time) + policy.snapshotTimeoutSeconds * 1000).toISOString();
  // Oldest first, so the newest earlier dump of each database wins; one of the chosen run itself is never replaced.
  for (const s of sorted) {
    const file = dumpFileOf(s);
    const taken = file ? dumps.get(file) : undefined;
    if (file && !group.includes(s) && s.time <= until && !(taken && group.includes(taken)))
      dumps.set(file, s);
  }
  return { files, dumps: [...dumps.values()] };
}

/** How many snapshot runs came after `older`'s, up to and including `newer`'s: 0 when they are of one run. */
function runsBetween(all: readonly Snapshot[], older: Snapshot, newer: Snapshot): number {
  const own = runOf(older);
  if (own !== undefined && own === runOf(newer)) return 0;
  const runs = new Set(
    all
      .filter((s) => s.time > older.time && s.time <= newer.time && runOf(s) !== own)
      .map((s) => runOf(s) ?? s.id),
  );
  return runs.size;
}

export async function planRecovery(inputs: PlanInputs): Promise<RecoveryPlan> {
  const { policy, runbook, machine } = inputs;
  let chosen: { files: Snapshot | undefined; dumps: Snapshot[] } = { files: undefined, dumps: [] };
  let all: Snapshot[] = [];
  let resticVersion = "";
  if (!inputs.noData) {
    // Opening and listing proves the key and the storage before anything is provisioned.
    const opened = await openPolicyRepository(inputs.config, policy, {
      logger: inputs.logger,
      signal: inputs.signal,
    });
    all = await opened.repo.snapshots({ host: policy.host, tags: [LIFEBOAT_TAG] });
    chosen = chooseSnapshots(all, inputs.snapshot ?? "latest", policy);
    resticVersion = opened.resticVersion;
  }
  const reference = chosen.files ?? chosen.dumps.at(-1);
  const dumps = chosen.dumps.flatMap((s): PlannedDump[] => {
    const file = dumpFileOf(s) ?? "";
    const parsed = parseDumpFile(file, sqlitePathsOf(policy));
    if (!parsed) return [];
    return [
      {
        file,
        ...parsed,
        snapshotId: s.id,
        time: s.time,
        bytes: s.summary?.total_bytes_processed,
        runId: runOf(s),
        runsAgo: reference ? runsBetween(all, s, reference) : 0,
      },
    ];
  });
  // Roles and accounts first: the databases' grants name them.
  dumps.sort((a, b) => Number(isServerWideDump(b.file)) - Number(isServerWideDump(a.file)));
  const plan: RecoveryPlan = {
    host: policy.host,
    mode: inputs.mode,
    provider: inputs.provider,
    machine,
    from: inputs.noData ? undefined : policy.repository,
    snapshot: reference
      ? {
          id: reference.id,
          shortId: reference.short_id,
          time: reference.time,
          ageSeconds: Math.max(0, (Date.now() - Date.parse(reference.time)) / 1000),
          files: chosen.files?.summary?.total_files_processed,
          bytes: chosen.files?.summary?.total_bytes_processed,
          runId: runOf(reference),
        }
      : undefined,
    dumps,
    paths: inputs.noData ? [] : snapshotSelection(policy).roots,
    steps: runbook.steps.map((s) => ({ name: s.name, kind: s.kind })),
    checks: runbook.checks.map((c) => c.name),
    rtoSeconds: runbook.rtoSeconds,
    rpoSeconds: policy.rpoSeconds,
    resticVersion,
  };
  return plan;
}
