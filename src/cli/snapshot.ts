import type { Command } from "commander";
import type { LifeboatConfig } from "../config/load.js";
import { ExitCode, LifeboatError } from "../errors.js";
import { fleetExitCode, type HostSnapshotResult, snapshotAll } from "../snapshot/all.js";
import { snapshotAndRetain } from "../snapshot/and-retain.js";
import { acceptHint } from "../snapshot/guard.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandContext, CommandRunner } from "./context.js";
import { createProgress } from "./progress.js";
import { printTable } from "./table.js";

/** What the whole run added: the files snapshot and every database dump (a dumps-only host added no files). */
function addedByRun(o: { bytesAdded: number; dumps: ReadonlyArray<{ bytesAdded: number }> }): number {
  return o.dumps.reduce((sum, d) => sum + d.bytesAdded, o.bytesAdded);
}

export function registerSnapshot(program: Command, run: CommandRunner): void {
  program
    .command("snapshot")
    .description("snapshot the irreplaceable data of a host (rebuildable and ignored paths are never read)")
    .option("--host <host>", "the host, as named in its policy")
    .option("--all", "every host with a policy, `concurrency` (lifeboat.yaml) at a time")
    .option("--no-prune", "skip applying the retention rules after the snapshot")
    .addHelpText(
      "after",
      "\nExit status: 0 done; 3 saved but some files unreadable; 9 saved but suspicious (retention held); 4 irreplaceable data missing; 5 restic missing\n" +
        "on the host; 7 key missing; 11 repository locked; 12 wrong password; 13 host unreachable; 14 time limit\n" +
        "reached; 1 other failure. With --all: 0 when every host succeeded, else the failures' shared status, or 1.",
    )
    .action((opts: { host?: string; all?: boolean; prune: boolean }) =>
      run(async (ctx) => {
        if (Boolean(opts.host) === Boolean(opts.all)) {
          throw new LifeboatError("USAGE", "name one host with --host, or all of them with --all", {
            hint: "For example: lifeboat snapshot --host web1",
          });
        }
        const config = await ctx.loadConfig();
        if (opts.all) return snapshotEveryHost(ctx, config, opts.prune);
        const progress = await createProgress(`snapshot ${opts.host}`, !ctx.options.json);
        const outcome = await snapshotAndRetain({
          config,
          host: opts.host ?? "",
          prune: opts.prune,
          logger: ctx.logger,
          signal: ctx.signal,
          onProgress: progress.onStatus,
        }).finally(() => progress.stop());
        const retention = outcome.retention;
        const retentionError = retention && "error" in retention ? retention.error : undefined;
        const copyError =
          outcome.replication && "error" in outcome.replication ? outcome.replication.error : undefined;
        ctx.print(
          {
            ...outcome,
            retention: retentionError ? { error: retentionError.toJSON() } : retention,
            replication: copyError ? { error: copyError.toJSON() } : outcome.replication,
          },
          () => {
            const lines = outcome.filesSnapshotId
              ? [
                  `snapshot ${outcome.shortId} of ${outcome.host} saved to ${outcome.repository}`,
                  `  ${outcome.totalFiles} files, ${formatBytes(outcome.totalBytes)} (${outcome.filesNew} new, ${outcome.filesChanged} changed); ${formatBytes(outcome.bytesAdded)} added`,
                  `  paths: ${outcome.roots.join(", ")}`,
                ]
              : [`database dumps of ${outcome.host} saved to ${outcome.repository}`];
            for (const d of outcome.dumps) {
              lines.push(
                `  ${d.engine} ${d.database}: snapshot ${d.shortId}, ${d.file}, ${formatBytes(d.bytes)} (${formatBytes(d.bytesAdded)} added)`,
              );
            }
            if (outcome.createdKeyFile) {
              lines.push(
                "",
                `NEW REPOSITORY KEY: ${outcome.createdKeyFile}`,
                `  This file is the only way to read ${outcome.host}'s snapshots. Copy it somewhere safe, offline and`,
                "  off this machine, now. If it is lost, the data is lost. This is shown once, when the repository is created.",
              );
            }
            const suspicious = outcome.suspicious;
            if (suspicious) {
              lines.push(
                "",
                `SUSPICIOUS: ${suspicious.reasons.join("; ")}`,
                `  compared with snapshot ${suspicious.against.snapshotId.slice(0, 8)} of ${suspicious.against.at}`,
                `  -> ${acceptHint(outcome.host, outcome.snapshotId)}`,
              );
            }
            const copy = outcome.replication;
            if (copy && "error" in copy) {
              lines.push(`  copy FAILED [${copy.error.code}]: ${copy.error.message}`);
              lines.push(
                "    -> The snapshot is saved here; the next snapshot (or `lifeboat replicate`) copies what is missing.",
              );
            } else if (copy) {
              lines.push(
                `  copied to ${copy.to}: ${copy.snapshots} snapshot(s) of ${copy.host} there, newest ${copy.newest?.time ?? "-"}`,
              );
            }
            if (retention && "removed" in retention) {
              lines.push(`  retention: kept ${retention.kept.length}, removed ${retention.removed.length}`);
            } else if (retentionError?.code === "SNAPSHOT_SUSPICIOUS") {
              lines.push("  retention held: every earlier snapshot is kept");
            } else if (retentionError) {
              lines.push(`  retention FAILED [${retentionError.code}]: ${retentionError.message}`);
              if (retentionError.hint) lines.push(`    -> ${retentionError.hint}`);
            }
            return lines.join("\n");
          },
        );
        // Saved, but a person must look: the same status as `lifeboat status` gives it.
        return outcome.suspicious ? ExitCode.degraded : (retentionError?.exitCode ?? copyError?.exitCode);
      }),
    );
}

async function snapshotEveryHost(
  ctx: CommandContext,
  config: LifeboatConfig,
  prune: boolean,
): Promise<number> {
  const results = await snapshotAll({
    config,
    prune,
    logger: ctx.logger,
    signal: ctx.signal,
    onResult: (r) =>
      r.ok
        ? ctx.logger.info({ host: r.host, snapshot: r.outcome.shortId }, "host done")
        : ctx.logger.error({ host: r.host, code: r.error.code }, `host failed: ${r.error.message}`),
  });
  const seconds = (r: HostSnapshotResult): string =>
    `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)}s`;
  ctx.print(
    {
      hosts: results.map((r) =>
        r.ok
          ? { host: r.host, ok: true, startedAt: r.startedAt, finishedAt: r.finishedAt, snapshot: r.outcome }
          : {
              host: r.host,
              ok: false,
              startedAt: r.startedAt,
              finishedAt: r.finishedAt,
              error: r.error.toJSON(),
            },
      ),
    },
    () => {
      const failed = results.filter((r) => !r.ok).length;
      const rows = results.map((r) =>
        r.ok
          ? [
              r.host,
              r.outcome.suspicious ? "SUSPICIOUS" : "ok",
              r.outcome.shortId,
              formatBytes(addedByRun(r.outcome)),
              seconds(r),
              r.outcome.suspicious ? `${r.outcome.suspicious.reasons.join("; ")}; retention held` : "",
            ]
          : [r.host, "FAILED", "", "", seconds(r), `[${r.error.code}] ${r.error.message}`],
      );
      const keys = results.flatMap((r) =>
        r.ok && r.outcome.createdKeyFile ? [r.outcome.createdKeyFile] : [],
      );
      return [
        printTable(["HOST", "RESULT", "SNAPSHOT", "ADDED", "TOOK", "ERROR"], rows),
        "",
        `${results.length - failed} of ${results.length} hosts snapshotted${failed ? `; ${failed} failed` : ""}.`,
        ...[...new Set(keys)].map(
          (k) =>
            `NEW REPOSITORY KEY: ${k}: copy it somewhere safe, off this machine, now; without it the data is lost.`,
        ),
      ].join("\n");
    },
  );
  return fleetExitCode(results);
}
