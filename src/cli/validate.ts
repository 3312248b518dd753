import { existsSync } from "node:fs";
import type { Command } from "commander";
import { readConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { loadPolicies } from "../policy/load.js";
import { loadRunbook, type Runbook, runbookFileOf } from "../runbook/load.js";
import { snapshotSelection } from "../snapshot/selection.js";
import { describeTransport } from "../transport/open.js";
import { formatProblem } from "../yaml/located.js";
import type { CommandRunner } from "./context.js";

export function registerValidate(program: Command, run: CommandRunner): void {
  program
    .command("validate")
    .description(
      "check lifeboat.yaml, every policy and every runbook; list every problem as file:line: field: message",
    )
    .option("--policies <dir>", "the policies directory (default: from lifeboat.yaml, else ./policies)")
    .addHelpText("after", "\nExit status: 0 when everything is valid, 2 when anything is not.")
    .action((opts: { policies?: string }) =>
      run(async (ctx) => {
        const { config, problems } = await readConfig({ file: ctx.options.config });
        const set = config ? await loadPolicies(config, opts.policies ?? config.policiesDir) : undefined;
        // A host without a runbook can be snapshotted but not recovered: said below, not an error.
        const runbooks = new Map<string, Runbook | undefined>();
        const runbookProblems = [];
        for (const p of config ? (set?.policies ?? []) : []) {
          if (!config || !existsSync(runbookFileOf(config, p))) {
            runbooks.set(p.host, undefined);
            continue;
          }
          const loaded = await loadRunbook(config, p);
          if (loaded.ok) runbooks.set(p.host, loaded.runbook);
          else runbookProblems.push(...loaded.problems);
        }
        const all = [...problems, ...(set?.problems ?? []), ...runbookProblems];
        if (all.length > 0) {
          throw new LifeboatError(
            "POLICY_INVALID",
            `${all.length} problem(s):\n${all.map(formatProblem).join("\n")}`,
            {
              hint: "Fix each line above and run `lifeboat validate` again.",
              details: { problems: all },
            },
          );
        }
        const hosts = (set?.policies ?? []).map((p) => {
          const s = snapshotSelection(p);
          return {
            host: p.host,
            file: p.file,
            repository: p.repository,
            transport: describeTransport(p.transport),
            schedule: p.schedule,
            rpo: p.rpo,
            runbook: runbooks.get(p.host)?.file ?? null,
            databases: p.databases.map(
              (d) => `${d.engine} ${d.databases === "all" ? "(all)" : d.databases.join(", ")}`,
            ),
            ...s,
          };
        });
        ctx.print({ valid: true, config: config?.file ?? null, hosts }, () => {
          const lines = hosts.map(
            (h) =>
              `  ${h.host}: snapshots ${[...h.roots, ...h.databases].join(", ")} (${h.excludes.length} exclude rules) -> ${h.repository}` +
              (h.transport === "local" ? "" : ` (on the host, reached by ${h.transport})`) +
              (h.runbook ? "; runbook valid" : "; no runbook: it cannot be recovered or drilled"),
          );
          const names = hosts.map((h) => h.host).join(", ");
          return [
            `${hosts.length} polic${hosts.length === 1 ? "y" : "ies"} valid${names ? ` (${names})` : ""}`,
            ...lines,
          ].join("\n");
        });
      }),
    );
}
