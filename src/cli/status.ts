import type { Command } from "commander";
import { ExitCode } from "../errors.js";
import { alertStaleHosts } from "../mail/notify.js";
import { acceptHint } from "../snapshot/guard.js";
import { type HostStatus, status } from "../status/status.js";
import { formatBytes } from "../util/bytes.js";
import { formatDuration } from "../util/duration.js";
import type { CommandRunner } from "./context.js";
import { printTable } from "./table.js";

function runCell(r: HostStatus["lastRun"]): string {
  if (!r) return "-";
  const what = `${r.kind} ${r.outcome === "unfinished" ? "UNFINISHED (died?)" : r.outcome.toUpperCase()}`;
  return r.error ? `${what} (${r.error.code})` : what;
}

export function registerStatus(program: Command, run: CommandRunner): void {
  program
    .command("status")
    .description(
      "per host: newest good snapshot and its age against the RPO, size, last run and last check (from the catalog)",
    )
    .option("--host <host>", "only this host")
    .option(
      "--alert",
      "mail an alert for each stale host (once per stale episode; for cron until the daemon)",
    )
    .addHelpText(
      "after",
      "\nExit status: 0 when every host is healthy (fresh, its last run succeeded, no suspicious snapshot), 9 when any is not.",
    )
    .action((opts: { host?: string; alert?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const hosts = await status(config, opts.host);
        if (opts.alert) await alertStaleHosts(config, hosts, ctx.logger);
        ctx.print(
          hosts,
          () =>
            printTable(
              ["HOST", "NEWEST GOOD SNAPSHOT", "AGE / RPO", "SIZE", "LAST RUN", "LAST CHECK", "STATE"],
              hosts.map((h) => [
                h.host,
                h.lastGoodSnapshot
                  ? `${h.lastGoodSnapshot.snapshotId.slice(0, 8)} ${h.lastGoodSnapshot.at.replace(/\.\d+Z$/, "Z")}`
                  : "none",
                `${h.lastGoodSnapshot ? formatDuration(h.lastGoodSnapshot.ageSeconds) : "-"} / ${h.rpo}`,
                h.lastGoodSnapshot?.totalBytes === undefined
                  ? "-"
                  : formatBytes(h.lastGoodSnapshot.totalBytes),
                runCell(h.lastRun),
                h.lastCheck ? `${h.lastCheck.outcome} ${h.lastCheck.startedAt.slice(0, 10)}` : "never",
                h.suspicious
                  ? `SUSPICIOUS ${h.suspicious.snapshotId.slice(0, 8)}`
                  : h.healthy
                    ? "ok"
                    : h.fresh
                      ? "LAST RUN FAILED"
                      : "STALE",
              ]),
            ) +
            hosts
              .flatMap((h) =>
                h.copy
                  ? [
                      `\n${h.host}: copy in ${h.copy.target}: newest snapshot ${h.copy.newestAt ?? "none yet"}${h.copy.lastFailed ? " (the last copy FAILED; the next snapshot or `lifeboat replicate` catches up)" : ""}`,
                    ]
                  : [],
              )
              .join("") +
            hosts
              .flatMap((h) =>
                h.suspicious
                  ? [
                      `\n${h.host}: snapshot ${h.suspicious.snapshotId.slice(0, 8)} is suspicious: ${h.suspicious.reasons.join("; ")}`,
                      `  -> ${acceptHint(h.host, h.suspicious.snapshotId)}`,
                    ]
                  : [],
              )
              .join("\n"),
        );
        return hosts.every((h) => h.healthy) ? ExitCode.ok : ExitCode.degraded;
      }),
    );
}
