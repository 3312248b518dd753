// A snapshot followed by its host's retention rules: what the CLI runs now and the daemon will run nightly.
import { isLifeboatError, LifeboatError } from "../errors.js";
import { type ForgetOutcome, forget } from "../retention/forget.js";
import { type SnapshotOptions, type SnapshotOutcome, snapshot } from "./run.js";

export interface SnapshotAndRetainOutcome extends SnapshotOutcome {
  /** Undefined when retention was skipped. A retention failure does not undo the snapshot. */
  retention: ForgetOutcome | { error: LifeboatError } | undefined;
}

export async function snapshotAndRetain(
  options: SnapshotOptions & { prune: boolean },
): Promise<SnapshotAndRetainOutcome> {
  const outcome = await snapshot(options);
  if (!options.prune) return { ...outcome, retention: undefined };
  const retention = await forget({
    config: options.config,
    host: options.host,
    trigger: options.trigger,
    logger: options.logger,
    signal: options.signal,
  }).catch((err: unknown) => ({
    error: isLifeboatError(err) ? err : new LifeboatError("INTERNAL", String(err)),
  }));
  return { ...outcome, retention };
}
