import type { Command } from "commander";
import { restore } from "../restore/run.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";
import { createProgress } from "./progress.js";

export function registerRestore(program: Command, run: CommandRunner): void {
  program
    .command("restore")
    .description("restore a host's irreplaceable data into a directory and verify it against the repository")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .requiredOption("--target <dir>", "an empty or new directory to restore into")
    .option("--snapshot <id>", 'a snapshot id (or prefix), or "latest"', "latest")
    .option("--force", "restore into a directory that is not empty (files there may be overwritten)")
    .addHelpText(
      "after",
      "\nExit status: 0 restored and verified; 6 verification failed; 10 no repository; 12 wrong password.",
    )
    .action((opts: { host: string; target: string; snapshot: string; force?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const progress = await createProgress(`restore ${opts.host}`, !ctx.options.json);
        const outcome = await restore({
          config,
          host: opts.host,
          snapshot: opts.snapshot,
          target: opts.target,
          force: opts.force ?? false,
          logger: ctx.logger,
          signal: ctx.signal,
          onProgress: progress.onStatus,
        }).finally(() => progress.stop());
        ctx.print(
          outcome,
          () =>
            `restored snapshot ${outcome.shortId} of ${outcome.host} (${outcome.snapshotTime}) into ${outcome.target}\n` +
            `  ${outcome.files} files, ${formatBytes(outcome.bytes)}, verified, in ${outcome.seconds.toFixed(1)}s`,
        );
      }),
    );
}
