// What the machine of a recovery, drill or stage is called, and the {{variables}} its runbook sees.
import type { Policy } from "../policy/load.js";
import type { Runbook } from "../runbook/load.js";

/** A stage is a drill that stays: a copy of the host from a changed runbook, removed by `stage down` or its TTL. */
export type Mode = "recovery" | "drill" | "stage";

/** The machine a recovery recreates: the runbook's container name, else the policy's container, else the host. */
export function productionMachine(policy: Policy, runbook: Runbook): string {
  if (runbook.provider.kind === "container" && runbook.provider.name) return runbook.provider.name;
  if (policy.transport.kind === "container") return policy.transport.name;
  return policy.host;
}

/** The machine of a run: production's name for a recovery, `<host>-drill-<run>` or `<host>-stage-<run>`. */
export function machineName(mode: Mode, policy: Policy, runbook: Runbook, runId: string): string {
  if (mode === "recovery") return productionMachine(policy, runbook);
  return `${policy.host}-${mode}-${runId}`;
}

/** The {{name}}s of templates (and LIFEBOAT_<NAME> of shell steps): the runbook's vars, then the machine's own. */
export function templateVariables(
  runbook: Runbook,
  machine: { host: string; name: string; address: string; mode: Mode; runId?: string },
): Record<string, string> {
  const { runId, ...rest } = machine;
  return { ...runbook.vars, ...rest, ...(runId === undefined ? {} : { runId }) };
}
