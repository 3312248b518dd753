// A drill's rebuild drift: what the runbook rebuilt, compared with production before the data goes back.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { compareRebuild, type Drift } from "../drift/compare.js";
import type { ProvisionedHost } from "../provider/types.js";
import { type Runbook, renderTemplate, variablesIn } from "../runbook/load.js";
import { openTransport } from "../transport/open.js";
import type { RunContext } from "./context.js";
import { productionMachine, templateVariables } from "./machine.js";

/** What a drill's machine was rebuilt into, against production; never a failure of the drill. */
export async function compareWithProduction(ctx: RunContext, machine: ProvisionedHost): Promise<Drift> {
  const { policy, runbook } = ctx;
  const drift = await compareRebuild({
    policy,
    production: () => openTransport(policy.host, policy.transport),
    rebuilt: machine.transport,
    // Templates as rendered for production (its name and address), so that the drill's own are not drift.
    expectedInProduction: async (production) =>
      renderedFor(
        runbook,
        templateVariables(runbook, {
          host: policy.host,
          name: productionMachine(policy, runbook),
          address: await production.address(),
          mode: "recovery",
        }),
      ),
    signal: ctx.signal,
    logger: ctx.logger,
  });
  ctx.onEvent?.({ type: "drift", drift });
  return drift;
}

/** The md5 of every file the runbook renders from a template; null for one that uses {{runId}} (no two alike). */
async function renderedFor(
  runbook: Runbook,
  vars: Record<string, string>,
): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const step of runbook.steps) {
    if (step.kind !== "files" || !step.template) continue;
    for (const f of step.files) {
      const text = (await readFile(f.src)).toString("utf8");
      out.set(
        f.dest,
        variablesIn(text).includes("runId")
          ? null
          : createHash("md5")
              .update(renderTemplate(text, vars, f.src))
              .digest("hex"),
      );
    }
  }
  return out;
}
