// `lifeboat daemon`: the scheduler. Runs until SIGTERM or SIGINT; SIGHUP reloads policies and runbooks.
import type { Command } from "commander";
import type { CommandRunner } from "./context.js";

export function registerDaemon(program: Command, run: CommandRunner): void {
  program
    .command("daemon")
    .description(
      "run the schedules: snapshots (then retention) per policy, weekly checks, drills per runbook, the watchdog and the digest; /healthz and /metrics",
    )
    .addHelpText(
      "after",
      "\nSignals: SIGTERM/SIGINT stop it (running work gets daemon.shutdownGrace to finish; a second signal exits at once); SIGHUP reloads the policies and runbooks.",
    )
    .action(() =>
      run(async (ctx) => {
        // Loaded only for this command: node-schedule and prom-client would cost every other command's start-up.
        const { runDaemon } = await import("../daemon/run.js");
        await runDaemon({ loadConfig: ctx.loadConfig, logger: ctx.logger, shutdown: ctx.signal });
      }),
    );
}
