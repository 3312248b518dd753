// `lifeboat stage up|list|down`: try a configuration change on an isolated copy of a host built from the changed
// runbook (a file, or the runbook at a git ref), optionally with its data; removed by `down` or its TTL.
import type { Command } from "commander";
import { LifeboatError } from "../errors.js";
import { requireValidPolicies } from "../policy/load.js";
import type { RecoveryReport } from "../recovery/run.js";
import { eventLine, planText, reportText } from "../recovery/text.js";
import { findStage, listStages, markRemoved, removeStage } from "../stage/stages.js";
import { stageUp } from "../stage/up.js";
import { formatDuration, parseDuration } from "../util/duration.js";
import type { CommandRunner } from "./context.js";
import { printTable } from "./table.js";

interface UpFlags {
  host: string;
  runbook?: string;
  ref?: string;
  withData?: boolean;
  snapshot: string;
  ttl: string;
}

function reachText(r: RecoveryReport, engine: string | undefined): string {
  if (!engine) return `  reach it at ${r.address ?? "(no address)"}`;
  return `  reach it at ${r.address ?? "(no address)"}, or: ${engine} exec -it ${r.machine} sh`;
}

export function registerStage(program: Command, run: CommandRunner): void {
  const stage = program
    .command("stage")
    .description("try a runbook change on an isolated copy of a host (stage up), list them, remove them");

  stage
    .command("up")
    .description(
      "build an isolated copy of the host (<host>-stage-<id>, its own name and address) from a changed runbook, run its checks, and keep it until `stage down` or its TTL",
    )
    .requiredOption("--host <host>", "the host to copy")
    .option("--runbook <file>", "the changed runbook (default: the host's own)")
    .option("--ref <ref>", "the host's runbook as it is at this git branch, tag or commit")
    .option("--with-data", "restore the irreplaceable data onto the copy too")
    .option("--snapshot <id>", 'with --with-data: a snapshot id (or prefix), or "latest"', "latest")
    .option("--ttl <duration>", "remove it after this long (the daemon does; `stage down` sooner)", "4h")
    .addHelpText(
      "after",
      "\nExit status: 0 built and its checks passed; 1 a step failed; 6 a check failed (the copy is kept either way, to look at).",
    )
    .action((opts: UpFlags) =>
      run(async (ctx) => {
        const ttlSeconds = parseDuration(opts.ttl);
        if (!ttlSeconds)
          throw new LifeboatError("USAGE", `--ttl ${opts.ttl} is not a duration`, {
            hint: "e.g. 30m, 4h, 2d",
          });
        const human = !ctx.options.json;
        const { report, record, failure, engine } = await stageUp({
          config: await ctx.loadConfig(),
          host: opts.host,
          runbookFile: opts.runbook,
          ref: opts.ref,
          withData: opts.withData ?? false,
          snapshot: opts.snapshot,
          ttlSeconds,
          logger: ctx.logger,
          signal: ctx.signal,
          onEvent: (e) => {
            if (!human) return;
            const line = e.type === "plan" ? planText(e.plan) : eventLine(e);
            if (line) process.stderr.write(`${line}\n`);
          },
        });
        if (record && human)
          process.stderr.write(
            `staged ${record.host} as ${record.machine} (stage ${record.id}) until ${record.expiresAt}\n` +
              `${reachText(report, engine)}\n` +
              `  remove it: lifeboat stage down ${record.id}\n`,
          );
        if (failure) throw failure;
        ctx.print(report, () => reportText(report));
      }),
    );

  stage
    .command("list")
    .description("staged hosts that still stand: age, time left, where the runbook came from, check results")
    .option("--all", "removed ones too")
    .action((opts: { all?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const now = Date.now();
        const stages = (await listStages(config, await requireValidPolicies(config))).filter(
          (s) => opts.all || !s.removed,
        );
        ctx.print(stages, () =>
          stages.length === 0
            ? "no stages"
            : printTable(
                ["ID", "HOST", "MACHINE", "ADDRESS", "AGE", "TTL LEFT", "CHECKS", "RUNBOOK"],
                stages.map((s) => {
                  const passed = s.checks.filter((c) => c.status === "passed").length;
                  const left = (Date.parse(s.expiresAt) - now) / 1000;
                  return [
                    s.id,
                    s.host,
                    s.machine,
                    s.address ?? "-",
                    formatDuration((now - Date.parse(s.createdAt)) / 1000),
                    s.removed ? `removed (${s.removed.reason})` : left > 0 ? formatDuration(left) : "expired",
                    s.failure ? `FAILED ${s.failure}` : `${passed}/${s.checks.length} passed`,
                    s.source,
                  ];
                }),
              ),
        );
      }),
    );

  stage
    .command("down <id>")
    .description("remove a staged host (its machine and network)")
    .option("--forget", "only mark it removed: its machine was removed by hand")
    .action((id: string, opts: { forget?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const { stage: found, policy } = await findStage(config, await requireValidPolicies(config), id);
        if (opts.forget) await markRemoved(config, policy, found, "forgotten");
        else await removeStage(config, policy, found, "down");
        ctx.print({ id: found.id, machine: found.machine, removed: true }, () =>
          opts.forget ? `forgot ${found.id} (${found.machine} is left as it is)` : `removed ${found.machine}`,
        );
      }),
    );
}
