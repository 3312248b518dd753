// A snapshot followed by its offsite copy and its host's retention rules: what the CLI and the daemon run.
import { isLifeboatError, LifeboatError } from "../errors.js";
import { policyForHost } from "../policy/load.js";
import { type ForgetOutcome, forget } from "../retention/forget.js";
import { type ReplicateOutcome, replicaOf, replicateHost } from "../storage/replicate.js";
import { type SnapshotOptions, type SnapshotOutcome, snapshot } from "./run.js";

export interface SnapshotAndRetainOutcome extends SnapshotOutcome {
  /** Undefined when retention was skipped. A retention failure does not undo the snapshot. */
  retention: ForgetOutcome | { error: LifeboatError } | undefined;
  /** Undefined when the target keeps no copy. A failed copy does not undo the snapshot; the next one catches up. */
  replication: ReplicateOutcome | { error: LifeboatError } | undefined;
}

const asError = (err: unknown): { error: LifeboatError } => ({
  error: isLifeboatError(err) ? err : new LifeboatError("INTERNAL", String(err)),
});

export async function snapshotAndRetain(
  options: SnapshotOptions & { prune: boolean },
): Promise<SnapshotAndRetainOutcome> {
  const outcome = await snapshot(options);
  const common = {
    config: options.config,
    host: options.host,
    trigger: options.trigger,
    logger: options.logger,
    signal: options.signal,
  };
  const policy = await policyForHost(options.config, options.host);
  // Copied before retention runs: the copy then holds what retention is about to remove here.
  const replication = replicaOf(options.config, policy.repository)
    ? await replicateHost(common).catch(asError)
    : undefined;
  if (!options.prune) return { ...outcome, retention: undefined, replication };
  const retention = await forget(common).catch(asError);
  return { ...outcome, retention, replication };
}
