import type { Command } from "commander";
import { snapshotAndRetain } from "../retention/after-snapshot.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";
import { createProgress } from "./progress.js";

export function registerSnapshot(program: Command, run: CommandRunner): void {
  program
    .command("snapshot")
    .description("snapshot the irreplaceable data of a host (rebuildable and ignored paths are never read)")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option("--no-prune", "skip applying the retention rules after the snapshot")
    .addHelpText(
      "after",
      "\nExit status: 0 done; 3 saved but some files unreadable; 4 irreplaceable data missing; 7 key missing;\n" +
        "11 repository locked; 12 wrong password; 1 other failure.",
    )
    .action((opts: { host: string; prune: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const progress = await createProgress(`snapshot ${opts.host}`, !ctx.options.json);
        const outcome = await snapshotAndRetain({
          config,
          host: opts.host,
          prune: opts.prune,
          logger: ctx.logger,
          signal: ctx.signal,
          onProgress: progress.onStatus,
        }).finally(() => progress.stop());
        const retention = outcome.retention;
        const retentionError = retention && "error" in retention ? retention.error : undefined;
        ctx.print(
          { ...outcome, retention: retentionError ? { error: retentionError.toJSON() } : retention },
          () => {
            const lines = [
              `snapshot ${outcome.shortId} of ${outcome.host} saved to ${outcome.repository}`,
              `  ${outcome.totalFiles} files, ${formatBytes(outcome.totalBytes)} (${outcome.filesNew} new, ${outcome.filesChanged} changed); ${formatBytes(outcome.bytesAdded)} added`,
              `  paths: ${outcome.roots.join(", ")}`,
            ];
            if (outcome.createdKeyFile) {
              lines.push(
                "",
                `NEW REPOSITORY KEY: ${outcome.createdKeyFile}`,
                `  This file is the only way to read ${outcome.host}'s snapshots. Copy it somewhere safe, offline and`,
                "  off this machine, now. If it is lost, the data is lost. This is shown once, when the repository is created.",
              );
            }
            if (retention && "removed" in retention) {
              lines.push(`  retention: kept ${retention.kept.length}, removed ${retention.removed.length}`);
            } else if (retentionError) {
              lines.push(`  retention FAILED [${retentionError.code}]: ${retentionError.message}`);
              if (retentionError.hint) lines.push(`    -> ${retentionError.hint}`);
            }
            return lines.join("\n");
          },
        );
        return retentionError?.exitCode;
      }),
    );
}
