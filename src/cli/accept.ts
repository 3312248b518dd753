import type { Command } from "commander";
import { catalogFor } from "../catalog/store.js";
import { policyForHost } from "../policy/load.js";
import { acceptSnapshot } from "../snapshot/guard.js";
import type { CommandRunner } from "./context.js";

export function registerAccept(program: Command, run: CommandRunner): void {
  program
    .command("accept")
    .description(
      "say that a suspicious snapshot (data deleted or changed) is the data as it should be: retention resumes",
    )
    .requiredOption("--host <host>", "the host, as named in its policy")
    .requiredOption("--snapshot <id>", "the suspicious snapshot (at least 8 characters of its id)")
    .action((opts: { host: string; snapshot: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const policy = await policyForHost(config, opts.host);
        const accepted = await acceptSnapshot(
          catalogFor(config, policy.repository),
          policy.host,
          opts.snapshot,
        );
        ctx.print(
          { host: policy.host, ...accepted },
          () =>
            `accepted snapshot ${accepted.snapshotId.slice(0, 8)} of ${policy.host} (${accepted.suspicion.reasons.join("; ")}); ` +
            "later snapshots are compared with it, and retention runs again",
        );
      }),
    );
}
