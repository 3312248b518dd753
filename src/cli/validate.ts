import type { Command } from "commander";
import { readConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { loadPolicies } from "../policy/load.js";
import { snapshotSelection } from "../snapshot/selection.js";
import { describeTransport } from "../transport/open.js";
import { formatProblem } from "../yaml/located.js";
import type { CommandRunner } from "./context.js";

export function registerValidate(program: Command, run: CommandRunner): void {
  program
    .command("validate")
    .description("check lifeboat.yaml and every policy; list every problem as file:line: field: message")
    .option("--policies <dir>", "the policies directory (default: from lifeboat.yaml, else ./policies)")
    .addHelpText("after", "\nExit status: 0 when everything is valid, 2 when anything is not.")
    .action((opts: { policies?: string }) =>
      run(async (ctx) => {
        const { config, problems } = await readConfig({ file: ctx.options.config });
        const set = config ? await loadPolicies(config, opts.policies ?? config.policiesDir) : undefined;
        const all = [...problems, ...(set?.problems ?? [])];
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
            ...s,
          };
        });
        ctx.print({ valid: true, config: config?.file ?? null, hosts }, () => {
          const lines = hosts.map(
            (h) =>
              `  ${h.host}: snapshots ${h.roots.join(", ")} (${h.excludes.length} exclude rules) -> ${h.repository}` +
              (h.transport === "local" ? "" : ` (on the host, reached by ${h.transport})`),
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
