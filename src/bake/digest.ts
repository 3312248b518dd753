// What a baked image was made from, as one digest: the runbook's steps up to `restore` (with the content of every
// file they copy or run), its variables, and the base the machine started from. An image whose digest is not the
// current runbook's is stale: a recovery from it would not be the runbook's machine.
import { createHash } from "node:crypto";
import { fields, type Sources } from "../runbook/diff.js";
import type { Runbook, Step } from "../runbook/load.js";

/** The steps a baked image holds: those before `restore`, except templates (rendered for each machine). */
export function bakedSteps(runbook: Runbook): Step[] {
  const restoreAt = runbook.steps.findIndex((s) => s.kind === "restore");
  const before = restoreAt < 0 ? runbook.steps : runbook.steps.slice(0, restoreAt);
  return before.filter((s) => !isPerMachine(s));
}

/**
 * A step whose result depends on the machine it runs on: templates see {{name}} and {{address}}. A machine from a
 * baked image runs them again.
 */
export const isPerMachine = (step: Step): boolean => step.kind === "files" && step.template;

/** 16 hex digits of sha256 over what makes the image; a step's name and timeout are not part of it. */
export function bakeDigest(runbook: Runbook, baseIdentity: string): string {
  const sources: Sources = new Map();
  const steps = bakedSteps(runbook).map((step) => {
    const { timeout: _timeout, ...what } = fields(runbook, step, sources);
    return { kind: step.kind, ...what };
  });
  const canonical = JSON.stringify({ base: baseIdentity, vars: sorted(runbook.vars), steps });
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

const sorted = (o: Record<string, string>): Array<[string, string]> =>
  Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
