import type { Command } from "commander";
import { LifeboatError } from "../errors.js";
import { DATABASE_ENGINES, type DatabaseEngine } from "../policy/databases.js";
import { restoreDump } from "../restore/dump.js";
import { restorePath } from "../restore/path.js";
import { restore } from "../restore/run.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";
import { createProgress } from "./progress.js";

const LOAD_WITH: Record<DatabaseEngine, string> = {
  postgres: "load it with psql",
  mysql: "load it with mysql",
  sqlite: "load it with sqlite3",
  redis: "put it in the server's dir as its dbfilename while Redis is stopped, then start Redis",
};

export function registerRestore(program: Command, run: CommandRunner): void {
  program
    .command("restore")
    .description("restore a host's irreplaceable data into a directory and verify it against the repository")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option(
      "--target <path>",
      "an empty or new directory to restore into (with --database: a new file; with --path: a directory)",
    )
    .option("--path <path>", "only this file or directory (its absolute path on the host)")
    .option(
      "--in-place",
      "with --path: put it back where it was on the host (what is there is kept beside it)",
    )
    .option("--database <name>", "restore one database's dump (for SQLite: its file's path on the host)")
    .option(
      "--engine <engine>",
      "postgres, mysql, sqlite or redis, when the same name has dumps from several",
    )
    .option("--snapshot <id>", 'a snapshot id (or prefix), or "latest"', "latest")
    .option(
      "--force",
      "restore into a directory that is not empty (files there may be overwritten); with --path, replace a newer file",
    )
    .addHelpText(
      "after",
      "\nExit status: 0 restored and verified; 2 a newer file is in the way (--in-place) or the path is not in the snapshot;\n" +
        "6 verification failed; 10 no repository; 12 wrong password.",
    )
    .action(
      (opts: {
        host: string;
        target?: string;
        snapshot: string;
        force?: boolean;
        database?: string;
        engine?: string;
        path?: string;
        inPlace?: boolean;
      }) =>
        run(async (ctx) => {
          const config = await ctx.loadConfig();
          if (opts.inPlace && !opts.path)
            throw new LifeboatError("USAGE", "--in-place needs --path", {
              hint: "Name the file or directory to put back, e.g. --path /srv/app/uploads/x.jpg.",
            });
          if (opts.path) {
            if (opts.database) throw new LifeboatError("USAGE", "--path and --database do not go together");
            const r = await restorePath({
              config,
              host: opts.host,
              path: opts.path,
              snapshot: opts.snapshot,
              target: opts.target,
              inPlace: opts.inPlace ?? false,
              force: opts.force ?? false,
              logger: ctx.logger,
              signal: ctx.signal,
            });
            ctx.print(
              r,
              () =>
                `restored ${r.path} from snapshot ${r.shortId} of ${r.host} (${r.snapshotTime}) ${r.where === "host" ? `in place on ${r.host}` : `into ${r.restoredTo}`}\n` +
                `  ${r.type === "dir" ? `${r.files} files, ` : ""}${formatBytes(r.bytes)}, verified` +
                (r.kept ? `; what was there is kept as ${r.kept}` : ""),
            );
            return;
          }
          if (!opts.target)
            throw new LifeboatError("USAGE", "restore needs --target", {
              hint: "Name a new or empty directory (with --database: a new file), or use --path P --in-place.",
            });
          const target = opts.target;
          if (opts.database) {
            if (opts.engine && !(DATABASE_ENGINES as readonly string[]).includes(opts.engine))
              throw new LifeboatError(
                "USAGE",
                `--engine must be one of ${DATABASE_ENGINES.join(", ")}, not ${opts.engine}`,
              );
            const dump = await restoreDump({
              config,
              host: opts.host,
              database: opts.database,
              engine: opts.engine as DatabaseEngine | undefined,
              snapshot: opts.snapshot,
              target,
              force: opts.force ?? false,
              logger: ctx.logger,
              signal: ctx.signal,
            });
            ctx.print(
              dump,
              () =>
                `restored the ${dump.engine} dump of ${dump.database} from snapshot ${dump.shortId} (${dump.snapshotTime}) into ${dump.target}\n` +
                `  ${formatBytes(dump.bytes)}, verified; ${LOAD_WITH[dump.engine]}`,
            );
            return;
          }
          const progress = await createProgress(`restore ${opts.host}`, !ctx.options.json);
          const outcome = await restore({
            config,
            host: opts.host,
            snapshot: opts.snapshot,
            target,
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
