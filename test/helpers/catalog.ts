// What the catalog says a host's repository holds, beside what the repository really holds.
import { listRuns, readRecord } from "../../src/catalog/records.js";
import { catalogFor } from "../../src/catalog/store.js";
import type { LifeboatConfig } from "../../src/config/load.js";
import { openRepository } from "../../src/storage/repository.js";

/** The snapshot ids of the host's succeeded snapshot runs (catalog) and of its repository's snapshots, sorted. */
export async function snapshotsBothWays(
  config: LifeboatConfig,
  target: string,
  host: string,
): Promise<{ catalog: string[]; repository: string[] }> {
  const catalog = catalogFor(config, target);
  const succeeded: string[] = [];
  for (const run of await listRuns(catalog, host)) {
    const record = run.endKey ? await readRecord(catalog, run.endKey) : undefined;
    if (record?.kind === "snapshot" && record.outcome === "succeeded" && record.snapshotId)
      succeeded.push(record.snapshotId);
  }
  // Opening it is itself the proof that the repository is usable.
  const { repo } = await openRepository({ config, targetName: target, host });
  const listed = (await repo.snapshots({ host })).map((s) => s.id);
  return { catalog: succeeded.sort(), repository: listed.sort() };
}
