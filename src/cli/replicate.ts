import type { Command } from "commander";
import { LifeboatError } from "../errors.js";
import { requireValidPolicies } from "../policy/load.js";
import { type ReplicateOutcome, replicaOf, replicateHost } from "../storage/replicate.js";
import type { CommandRunner } from "./context.js";

export function registerReplicate(program: Command, run: CommandRunner): void {
  program
    .command("replicate")
    .description("copy the snapshots a host's offsite copy lacks, now (every snapshot does it too)")
    .option("--host <host>", "only this host; default: every host whose target keeps a copy")
    .action((opts: { host?: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const hosts = (await requireValidPolicies(config))
          .filter((p) => (opts.host ? p.host === opts.host : replicaOf(config, p.repository)))
          .map((p) => p.host);
        if (hosts.length === 0)
          throw new LifeboatError(
            "USAGE",
            opts.host ? `no policy for host ${opts.host}` : "no target keeps a copy",
            {
              hint: "Add `replicate: { to: <target> }` to a target in lifeboat.yaml.",
            },
          );
        const done: ReplicateOutcome[] = [];
        for (const host of hosts)
          done.push(await replicateHost({ config, host, logger: ctx.logger, signal: ctx.signal }));
        ctx.print(done, () =>
          done
            .map(
              (o) =>
                `${o.host}: ${o.snapshots} snapshot(s) in ${o.to}, newest ${o.newest ? `${o.newest.id.slice(0, 8)} ${o.newest.time}` : "-"}`,
            )
            .join("\n"),
        );
      }),
    );
}
