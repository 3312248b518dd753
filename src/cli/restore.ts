import type { Command } from "commander";
import { LifeboatError } from "../errors.js";
import type { DatabaseEngine } from "../policy/databases.js";
import { restoreDump } from "../restore/dump.js";
import { restore } from "../restore/run.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";
import { createProgress } from "./progress.js";

export function registerRestore(program: Command, run: CommandRunner): void {
  program
    .command("restore")
    .description("restore a host's irreplaceable data into a directory and verify it against the repository")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .requiredOption(
      "--target <path>",
      "an empty or new directory to restore into (with --database: a new file)",
    )
    .option("--database <name>", "restore one database's dump (for SQLite: its file's path on the host)")
    .option("--engine <engine>", "postgres, mysql or sqlite, when the same name has dumps from several")
    .option("--snapshot <id>", 'a snapshot id (or prefix), or "latest"', "latest")
    .option("--force", "restore into a directory that is not empty (files there may be overwritten)")
    .addHelpText(
      "after",
      "\nExit status: 0 restored and verified; 6 verification failed; 10 no repository; 12 wrong password.",
    )
    .action(
      (opts: {
        host: string;
        target: string;
        snapshot: string;
        force?: boolean;
        database?: string;
        engine?: string;
      }) =>
        run(async (ctx) => {
          const config = await ctx.loadConfig();
          if (opts.database) {
            if (opts.engine && !["postgres", "mysql", "sqlite"].includes(opts.engine))
              throw new LifeboatError(
                "USAGE",
                `--engine must be postgres, mysql or sqlite, not ${opts.engine}`,
              );
            const dump = await restoreDump({
              config,
              host: opts.host,
              database: opts.database,
              engine: opts.engine as DatabaseEngine | undefined,
              snapshot: opts.snapshot,
              target: opts.target,
              force: opts.force ?? false,
              logger: ctx.logger,
              signal: ctx.signal,
            });
            ctx.print(
              dump,
              () =>
                `restored the ${dump.engine} dump of ${dump.database} from snapshot ${dump.shortId} (${dump.snapshotTime}) into ${dump.target}\n` +
                `  ${formatBytes(dump.bytes)}, verified; load it with ${dump.engine === "postgres" ? "psql" : dump.engine === "mysql" ? "mysql" : "sqlite3"}`,
            );
            return;
          }
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
