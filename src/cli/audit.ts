import type { Command } from "commander";
import { suggestedPolicy } from "../audit/findings.js";
import { type AuditResult, auditHost } from "../audit/scan.js";
import { recordAudit } from "../audit/store.js";
import { ExitCode } from "../errors.js";
import { policyForHost } from "../policy/load.js";
import { openTransport } from "../transport/open.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";
import { printTable } from "./table.js";

function auditText(r: AuditResult): string {
  const head = `audit of ${r.host}: ${r.scanned} files looked at in ${r.roots.join(" ")} (classified paths skipped), ${r.verified} package files compared with their md5, ${r.seconds.toFixed(1)} s`;
  const warnings = r.warnings.length ? `\nnot readable: ${r.warnings.join("; ")}` : "";
  if (r.groups.length === 0)
    return `${head}\nnothing unclassified: every file is in the policy, a package's, or the system's${warnings}`;
  const table = printTable(
    ["PATH", "FINDING", "FILES", "SIZE", "NEWEST", "SUGGESTION"],
    r.groups.map((g) => [
      g.path,
      g.kind === "unclassified" ? "unclassified" : `changed package file (${g.packages.join(", ")})`,
      String(g.files),
      formatBytes(g.bytes),
      g.newest.replace(/\.\d+Z$/, "Z"),
      g.suggestion.dataClass,
    ]),
  );
  const why = [...new Set(r.groups.map((g) => `- ${g.suggestion.dataClass}: ${g.suggestion.why}`))].join(
    "\n",
  );
  return `${head}\n\n${table}\n\n${why}\n\nA policy entry for each (review before adding):\n${suggestedPolicy(r.groups)}${warnings}`;
}

export function registerAudit(program: Command, run: CommandRunner): void {
  program
    .command("audit")
    .description(
      "look on the live host for data in no class: files under the usual state places that the policy does not classify and no package owns, and package files changed since installation",
    )
    .requiredOption("--host <host>", "the host to audit")
    .option("--no-record", "do not keep the audit in the catalog")
    .addHelpText(
      "after",
      "\nReads file metadata only (find), plus the contents of package files to compare them with dpkg's md5." +
        "\nExit status: 0 when nothing is unclassified, 9 when something is.",
    )
    .action((opts: { host: string; record: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const policy = await policyForHost(config, opts.host);
        const transport = await openTransport(policy.host, policy.transport);
        const tty = process.stderr.isTTY && !ctx.options.quiet && !ctx.options.json;
        const result = await auditHost(transport, policy, {
          signal: ctx.signal,
          onProgress: (n) => {
            if (tty) process.stderr.write(`\rscanning ${policy.host}: ${n} files`);
          },
        });
        if (tty) process.stderr.write("\r\x1b[K");
        ctx.logger.info(
          {
            host: policy.host,
            scanned: result.scanned,
            findings: result.groups.length,
            seconds: result.seconds,
          },
          "audit finished",
        );
        if (opts.record) await recordAudit(config, policy, result);
        ctx.print(result, () => auditText(result));
        return result.groups.length ? ExitCode.degraded : ExitCode.ok;
      }),
    );
}
