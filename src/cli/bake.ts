// `lifeboat bake --host H`: save the runbook's machine, configured up to `restore`, as an image for quick recoveries.
import type { Command } from "commander";
import { bakeHost } from "../bake/run.js";
import { formatBytes } from "../util/bytes.js";
import type { CommandRunner } from "./context.js";

export function registerBake(program: Command, run: CommandRunner): void {
  program
    .command("bake")
    .description(
      "run a host's runbook steps up to restore on a fresh isolated machine and save it as an image tagged with the runbook's digest; recover and drill start from it while the digest matches",
    )
    .requiredOption("--host <host>", "the host, as named in its policy")
    .option("--force", "bake again even when the image of the current runbook exists")
    .action((opts: { host: string; force?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const human = !ctx.options.json;
        const result = await bakeHost({
          config,
          host: opts.host,
          force: opts.force ?? false,
          logger: ctx.logger,
          signal: ctx.signal,
          onStep: (s) => {
            if (human)
              process.stderr.write(
                `  ${s.status === "passed" ? "ok  " : "FAIL"} ${s.name} (${s.seconds.toFixed(1)}s)\n`,
              );
          },
        });
        const size = result.image.bytes !== undefined ? `, ${formatBytes(result.image.bytes)}` : "";
        ctx.print(result, () =>
          result.status === "fresh"
            ? `${result.host}'s image is up to date: ${result.image.ref} (digest ${result.digest}, baked ${result.image.createdAt}${size})`
            : `baked ${result.host}: ${result.image.ref} (digest ${result.digest}${size}) in ${result.seconds.toFixed(0)}s`,
        );
      }),
    );
}
