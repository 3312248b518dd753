import type { Command } from "commander";
import { diffSnapshots, findInSnapshots, listSnapshotPath } from "../browse/browse.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";
import { printTable } from "./table.js";

const when = (iso: string | undefined): string => (iso ? iso.replace(/\.\d+/, "").replace("T", " ") : "");
const sized = (n: number | undefined): string => (n === undefined ? "" : formatBytes(n));

export function registerBrowse(program: Command, run: CommandRunner): void {
  program
    .command("ls")
    .description("list what a snapshot holds under a path (everything, without one)")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option("--snapshot <id>", 'a snapshot id (or prefix), or "latest"', "latest")
    .option("--recursive", "with a path: everything below it, not only its own entries")
    .argument("[path]", "an absolute path as it was on the host")
    .addHelpText("after", "\nExit status: 0 listed; 2 the path is not in the snapshot; 10 no repository.")
    .action((p: string | undefined, opts: { host: string; snapshot: string; recursive?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const listing = await listSnapshotPath({
          config,
          host: opts.host,
          snapshot: opts.snapshot,
          path: p,
          recursive: opts.recursive ?? false,
          logger: ctx.logger,
          signal: ctx.signal,
        });
        ctx.print(listing, () => {
          const head = `snapshot ${listing.snapshot.shortId} of ${listing.host} (${when(listing.snapshot.time)}): ${listing.path}`;
          if (listing.entries.length === 0) return `${head}\n  (empty)`;
          return `${head}\n${printTable(
            ["MODE", "SIZE", "MODIFIED", "PATH"],
            listing.entries.map((e) => [e.permissions ?? e.type, sized(e.size), when(e.mtime), e.path]),
          )}`;
        });
      }),
    );

  program
    .command("find")
    .description("which snapshots of a host hold a file whose name matches a pattern, newest first")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .argument("<pattern>", "a name or glob (invoice-*.pdf); a pattern beginning with / matches a whole path")
    .action((pattern: string, opts: { host: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const hits = await findInSnapshots({
          config,
          host: opts.host,
          pattern,
          logger: ctx.logger,
          signal: ctx.signal,
        });
        ctx.print(hits, () => {
          if (hits.length === 0) return `no snapshot of ${opts.host} holds ${pattern}`;
          return printTable(
            ["SNAPSHOT", "TIME", "SIZE", "MODIFIED", "PATH"],
            hits.flatMap((h) =>
              h.matches.map((m) => [
                h.snapshot.dump ? `${h.snapshot.shortId} (dump)` : h.snapshot.shortId,
                when(h.snapshot.time),
                sized(m.size),
                when(m.mtime),
                m.path,
              ]),
            ),
          );
        });
      }),
    );

  program
    .command("diff")
    .description("what changed between two snapshots of a host: added, removed and changed files, with sizes")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option("--metadata", "also list files whose metadata alone (mode, owner, times) changed")
    .argument("<from>", 'the older snapshot id (or prefix), or "latest"')
    .argument("<to>", 'the newer snapshot id (or prefix), or "latest"')
    .action((from: string, to: string, opts: { host: string; metadata?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const d = await diffSnapshots({
          config,
          host: opts.host,
          from,
          to,
          metadata: opts.metadata ?? false,
          logger: ctx.logger,
          signal: ctx.signal,
        });
        ctx.print(d, () => {
          const rows = [
            ...d.added.map((a) => ["+", "", sized(a.size), a.path]),
            ...d.removed.map((r) => ["-", sized(r.size), "", r.path]),
            ...d.changed.map((c) => [
              c.change === "content" ? "M" : c.change === "type" ? "T" : "U",
              sized(c.sizeBefore),
              sized(c.sizeAfter),
              c.path,
            ]),
          ].sort((a, b) => (a[3] ?? "").localeCompare(b[3] ?? ""));
          const head = `${d.host}: ${d.from.shortId} (${when(d.from.time)}) -> ${d.to.shortId} (${when(d.to.time)}): ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed`;
          return rows.length === 0
            ? `${head}\n  no differences`
            : `${head}\n${printTable(["", "BEFORE", "AFTER", "PATH"], rows)}`;
        });
      }),
    );
}
