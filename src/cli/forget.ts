import type { Command } from "commander";
import { forget } from "../retention/forget.js";
import type { CommandRunner } from "./context.js";

export function registerForget(program: Command, run: CommandRunner): void {
  program
    .command("forget")
    .description("apply the host's retention rules now: forget old snapshots and prune their data")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option("--dry-run", "show what would be removed; change nothing")
    .action((opts: { host: string; dryRun?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const outcome = await forget({
          config,
          host: opts.host,
          dryRun: opts.dryRun ?? false,
          logger: ctx.logger,
          signal: ctx.signal,
        });
        ctx.print(outcome, () => {
          const verb = outcome.dryRun ? "would remove" : "removed";
          const lines = [
            `${outcome.host}: keeping ${outcome.kept.length}, ${verb} ${outcome.removed.length} (${JSON.stringify(outcome.rules)})`,
          ];
          for (const s of outcome.removed) lines.push(`  ${verb} ${s.id.slice(0, 8)} ${s.time}`);
          return lines.join("\n");
        });
      }),
    );
}
