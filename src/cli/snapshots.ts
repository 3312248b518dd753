import type { Command } from "commander";
import { listSnapshots } from "../snapshot/list.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandContext } from "./context.js";

export function registerSnapshots(
  program: Command,
  run: (fn: (ctx: CommandContext) => Promise<void>) => Promise<void>,
): void {
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
          const header = ["HOST", "ID", "TIME", "FILES", "SIZE", "ADDED"];
          const body = rows.map((r) => [
            r.host,
            r.shortId,
            r.time.replace(/\.\d+/, "").replace("T", " "),
            String(r.files ?? "?"),
            r.totalBytes === undefined ? "?" : formatBytes(r.totalBytes),
            r.bytesAdded === undefined ? "?" : formatBytes(r.bytesAdded),
          ]);
          const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]?.length ?? 0)));
          return [header, ...body]
            .map((row) =>
              row
                .map((c, i) => c.padEnd(widths[i] ?? 0))
                .join("  ")
                .trimEnd(),
            )
            .join("\n");
        });
      }),
    );
}
