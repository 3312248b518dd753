// A policy's hooks: commands run on the host around its snapshot (Redis's SAVE, an application's own export,
// a maintenance flag), through the host's transport like everything else Lifeboat does there.
import { z } from "zod";
import { duration } from "../schema/common.js";
import { parseDuration } from "../util/duration.js";

/** A hook is a shell command line for the host's `sh -c`, or one with its own time limit. */
const hookCommand = z.union(
  [z.string().min(1), z.strictObject({ run: z.string().min(1), timeout: duration.optional() })],
  { error: () => 'must be a command line, or { run: "command", timeout: 5m }' },
);

/** Hooks per phase, at most 20 each: a runbook's worth, not a program. */
export const hooksSchema = z.strictObject({
  /** Before anything is saved, in order; the first that fails aborts the snapshot (nothing is saved). */
  before: z.array(hookCommand).max(20).default([]),
  /** After the snapshot, whether it succeeded or failed (also after a failed `before`). */
  after: z.array(hookCommand).max(20).default([]),
  /** Only when the snapshot failed, before `after`. */
  onError: z.array(hookCommand).max(20).default([]),
});

export type HookPhase = "before" | "after" | "onError";

export interface Hook {
  run: string;
  timeoutSeconds: number;
}

export type PolicyHooks = Record<HookPhase, Hook[]>;

/** A hook's time limit when it names none. */
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 300;

export function normalizeHooks(hooks: z.infer<typeof hooksSchema> | undefined): PolicyHooks {
  const norm = (list: z.infer<typeof hookCommand>[] = []): Hook[] =>
    list.map((h) =>
      typeof h === "string"
        ? { run: h, timeoutSeconds: DEFAULT_HOOK_TIMEOUT_SECONDS }
        : {
            run: h.run,
            timeoutSeconds: h.timeout
              ? (parseDuration(h.timeout) ?? DEFAULT_HOOK_TIMEOUT_SECONDS)
              : DEFAULT_HOOK_TIMEOUT_SECONDS,
          },
    );
  return { before: norm(hooks?.before), after: norm(hooks?.after), onError: norm(hooks?.onError) };
}
