import type { Command } from "commander";
import { ExitCode } from "../errors.js";
import { checkAll } from "../verify/check.js";
import type { CommandRunner } from "./context.js";

export function registerCheck(program: Command, run: CommandRunner): void {
  program
    .command("check")
    .description(
      "verify repositories: structure, plus the next slice of the data (all data over checkSlices runs)",
    )
    .option("--host <host>", "only this host (default: every host)")
    .addHelpText(
      "after",
      "\nExit status: 0 when every check passed; otherwise the exit code of the first failure.",
    )
    .action((opts: { host?: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const results = await checkAll({ config, host: opts.host, logger: ctx.logger, signal: ctx.signal });
        ctx.print(results, () =>
          results
            .map((r) =>
              r.error
                ? `${r.host}: check FAILED [${r.error.code}]: ${r.error.message}`
                : `${r.host}: ok (read data slice ${r.subset})`,
            )
            .join("\n"),
        );
        return results.find((r) => r.error)?.error?.exitCode ?? ExitCode.ok;
      }),
    );
}
