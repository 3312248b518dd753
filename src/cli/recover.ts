// `lifeboat recover` and `lifeboat drill`: rebuild a host from its runbook and restore its data onto it.
import type { Command } from "commander";
import { LifeboatError } from "../errors.js";
import { recoverHost } from "../recovery/run.js";
import { eventLine, planText, reportText } from "../recovery/text.js";
import type { CommandRunner } from "./context.js";

interface RecoverFlags {
  host: string;
  snapshot: string;
  dryRun?: boolean;
  replace?: boolean;
  keep?: boolean;
  data?: boolean;
  from?: string;
  fromCode?: boolean;
  fromImage?: boolean;
}

const EXIT_HELP =
  "\nExit status: 0 passed; 1 a step failed; 6 a check failed; 2 invalid runbook or the host still exists; 10 no repository; 12 wrong password; 130 interrupted.";

export function registerRecover(program: Command, run: CommandRunner): void {
  const action = (mode: "recovery" | "drill") => (opts: RecoverFlags) =>
    run(async (ctx) => {
      if (opts.fromCode && opts.fromImage)
        throw new LifeboatError("USAGE", "--from-code and --from-image exclude each other");
      const config = await ctx.loadConfig();
      const human = !ctx.options.json;
      const result = await recoverHost({
        config,
        host: opts.host,
        mode,
        snapshot: opts.snapshot,
        dryRun: opts.dryRun ?? false,
        replace: opts.replace ?? false,
        keep: opts.keep ?? false,
        noData: opts.data === false,
        from: opts.from,
        build: opts.fromCode ? "code" : opts.fromImage ? "image" : "auto",
        logger: ctx.logger,
        signal: ctx.signal,
        onEvent: (e) => {
          if (!human) return;
          if (e.type === "plan") process.stderr.write(`${planText(e.plan)}\n`);
          else {
            const line = eventLine(e);
            if (line) process.stderr.write(`${line}\n`);
          }
        },
      });
      if (result.dryRun) {
        ctx.print({ dryRun: true, plan: result.plan }, () => "dry run: nothing was provisioned or changed");
        return;
      }
      ctx.print(result.report, () => reportText(result.report));
    });

  program
    .command("recover")
    .description(
      "rebuild a host from its runbook on a fresh machine, restore its irreplaceable data, and check it",
    )
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option("--snapshot <id>", 'a snapshot id (or prefix), or "latest"', "latest")
    .option("--dry-run", "print the plan (and prove the snapshot and key) without provisioning anything")
    .option("--replace", "the machine still exists: stop and rename it (kept), then rebuild in its place")
    .option("--from <target>", "restore from the host's offsite copy (its target's replicate: to)")
    .option("--from-code", "build the machine by the runbook's steps even when a fresh baked image exists")
    .option("--from-image", "start from the baked image; fail when it is missing or stale")
    .option(
      "--no-data",
      "build the machine from its runbook only: no restore, no checks (a new host's first build)",
    )
    .addHelpText("after", EXIT_HELP)
    .action(action("recovery"));

  program
    .command("drill")
    .description(
      "prove a recovery: rebuild the host on an isolated throwaway machine, restore, check, remove it",
    )
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option("--snapshot <id>", 'a snapshot id (or prefix), or "latest"', "latest")
    .option("--dry-run", "print the plan (and prove the snapshot and key) without provisioning anything")
    .option("--keep", "keep the machine when the drill fails, for debugging (prints how to remove it)")
    .option("--from <target>", "restore from the host's offsite copy, to prove it too")
    .option("--from-code", "build the machine by the runbook's steps even when a fresh baked image exists")
    .option("--from-image", "start from the baked image; fail when it is missing or stale")
    .addHelpText("after", EXIT_HELP)
    .action(action("drill"));
}
