// The entry point: parse arguments, run one command, map any error to its exit code in one place.
import { Command, CommanderError, Option } from "commander";
import { asLifeboatError, ExitCode, LifeboatError } from "../errors.js";
import { VERSION } from "../version.js";
import { registerAccept } from "./accept.js";
import { registerAdmin } from "./admin.js";
import { registerAudit } from "./audit.js";
import { registerBake } from "./bake.js";
import { registerBrowse } from "./browse.js";
import { registerCheck } from "./check.js";
import { type CommandRunner, createContext, type GlobalOptions } from "./context.js";
import { registerDaemon } from "./daemon.js";
import { registerForget } from "./forget.js";
import { registerPlan } from "./plan.js";
import { registerRecover } from "./recover.js";
import { registerReplicate } from "./replicate.js";
import { registerReport } from "./report.js";
import { registerRestore } from "./restore.js";
import { registerSnapshot } from "./snapshot.js";
import { registerSnapshots } from "./snapshots.js";
import { registerStage } from "./stage.js";
import { registerStatus } from "./status.js";
import { registerUnlock } from "./unlock.js";
import { registerValidate } from "./validate.js";
import { registerVault } from "./vault.js";

function printError(err: LifeboatError, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: err.toJSON() }, null, 2)}\n`);
    return;
  }
  process.stderr.write(`error [${err.code}]: ${err.message}\n`);
  if (err.hint) process.stderr.write(`  -> ${err.hint}\n`);
}

/** Signals this close together are one request delivered twice. */
const SAME_SIGNAL_MS = 500;

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const controller = new AbortController();
  // The first signal stops restic and lets the command report; a second one exits at once. The listener
  // stays registered throughout: execa's signal-exit re-raises a signal when it sees no other listener. One
  // signal often arrives twice within milliseconds (a terminal's Ctrl-C reaches the launcher and us; systemd
  // signals the whole cgroup and the launcher forwards): only a second one a moment later is a second request.
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (Date.now() - firstAt > SAME_SIGNAL_MS) process.exit(ExitCode.interrupted);
      return;
    }
    firstAt = Date.now();
    controller.abort(new LifeboatError("INTERRUPTED", `stopped by ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const program = new Command("lifeboat")
    .description("Back up only what cannot be rebuilt; rebuild the rest from code; prove it with drills.")
    .version(VERSION)
    .option(
      "--config <file>",
      "lifeboat.yaml (default: $LIFEBOAT_CONFIG, else ./lifeboat.yaml, else the embedded local target)",
    )
    .option("--json", "print the result (or the error) as JSON on stdout")
    .addOption(
      new Option("--log-level <level>", "log detail on stderr").choices([
        "trace",
        "debug",
        "info",
        "warn",
        "error",
      ]),
    )
    .option("-q, --quiet", "log only warnings and errors")
    .exitOverride()
    .showHelpAfterError();

  // A command may return an exit code for outcomes that are not errors (status: a host needs attention).
  const run: CommandRunner = async (fn) => {
    const options = program.opts<GlobalOptions>();
    try {
      const ctx = await createContext(options, controller.signal);
      exitCode = (await fn(ctx)) ?? ExitCode.ok;
    } catch (err) {
      const error = asLifeboatError(err);
      printError(error, options.json ?? false);
      exitCode = error.exitCode;
    }
  };

  registerValidate(program, run);
  registerSnapshot(program, run);
  registerSnapshots(program, run);
  registerRestore(program, run);
  registerBrowse(program, run);
  registerUnlock(program, run);
  registerStatus(program, run);
  registerAudit(program, run);
  registerForget(program, run);
  registerReplicate(program, run);
  registerAccept(program, run);
  registerCheck(program, run);
  registerRecover(program, run);
  registerBake(program, run);
  registerPlan(program, run);
  registerStage(program, run);
  registerReport(program, run);
  registerAdmin(program, run);
  registerDaemon(program, run);
  registerVault(program, run);

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    } else {
      throw err;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return exitCode;
}
