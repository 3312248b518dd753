import type { Command } from "commander";
import { policyForHost } from "../policy/load.js";
import { openPolicyRepository } from "../storage/repository.js";
import type { CommandRunner } from "./context.js";

export function registerUnlock(program: Command, run: CommandRunner): void {
  program
    .command("unlock")
    .description(
      "remove stale locks a crashed restic left in a host's repository (locks of live processes stay)",
    )
    .requiredOption("--host <host>", "the host, as named in its policy")
    .action((opts: { host: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const policy = await policyForHost(config, opts.host);
        const opened = await openPolicyRepository(config, policy, { logger: ctx.logger });
        await opened.repo.unlock();
        ctx.print(
          { host: policy.host, repository: opened.location, unlocked: true },
          () => `removed stale locks in ${opened.location}`,
        );
      }),
    );
}
