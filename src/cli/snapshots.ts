import type { Command } from "commander";
import { listSnapshots } from "../snapshot/list.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";
import { printTable } from "./table.js";

export function registerSnapshots(program: Command, run: CommandRunner): void {
  program
    .command("snapshots")
    .description("list snapshots with their time, files and the size each added")
    .option("--host <host>", "only this host")
    .action((opts: { host?: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const rows = await listSnapshots(config, opts.host, ctx.logger);
        ctx.print(rows, () => {
          if (rows.length === 0) return "no snapshots yet";
          return printTable(
            ["HOST", "ID", "TIME", "HOLDS", "FILES", "SIZE", "ADDED"],
            rows.map((r) => [
              r.host,
              r.shortId,
              r.time.replace(/\.\d+/, "").replace("T", " "),
              r.holds,
              String(r.files ?? "?"),
              r.totalBytes === undefined ? "?" : formatBytes(r.totalBytes),
              r.bytesAdded === undefined ? "?" : formatBytes(r.bytesAdded),
            ]),
          );
        });
      }),
    );
}
