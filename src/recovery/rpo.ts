// The RPO of a recovery, drill or stage, item by item: each irreplaceable root by the sentinel read back from
// the restored data (else its snapshot's time), each database by the snapshot its dump came from. The run's RPO is
// its oldest item: a drill that restored yesterday's files with last week's database proved last week's RPO.
import type { Policy } from "../policy/load.js";
import type { RpoItem } from "../report/schema.js";
import type { RecoveryPlan } from "./plan.js";
import type { RestoredData } from "./restore.js";

/** The age of everything restored, oldest first; empty when nothing was restored. */
export function rpoItems(
  plan: RecoveryPlan,
  policy: Policy,
  restored: RestoredData | undefined,
  startedAt: number,
): RpoItem[] {
  if (!restored) return [];
  const target = policy.rpoSeconds;
  const item = (fields: Omit<RpoItem, "met">): RpoItem => ({ ...fields, met: fields.ageSeconds <= target });
  const files = plan.paths.flatMap((root): RpoItem[] => {
    const sentinel = restored.sentinels.get(root);
    if (sentinel)
      return [
        item({
          item: root,
          kind: "files",
          ageSeconds: (startedAt - Date.parse(sentinel.writtenAt)) / 1000,
          source: "sentinel",
          runId: sentinel.runId,
        }),
      ];
    if (!plan.snapshot) return [];
    return [
      item({
        item: root,
        kind: "files",
        ageSeconds: (startedAt - Date.parse(plan.snapshot.time)) / 1000,
        source: "snapshot",
        runId: plan.snapshot.runId,
      }),
    ];
  });
  const loaded = new Set(restored.databases.map((d) => `${d.engine} ${d.database}`));
  const dumps = plan.dumps
    .filter((d) => loaded.has(`${d.engine} ${d.database}`))
    .map((d) =>
      item({
        item: `${d.engine} ${d.database}`,
        kind: "dump",
        ageSeconds: (startedAt - Date.parse(d.time)) / 1000,
        source: "snapshot",
        runId: d.runId,
        ...(d.runsAgo > 0 ? { runsAgo: d.runsAgo } : {}),
      }),
    );
  return [...files, ...dumps].sort((a, b) => b.ageSeconds - a.ageSeconds);
}
