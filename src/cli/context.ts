// What every command gets: global options, config, logger, and one way to print a result.
import type { Logger } from "pino";
import { type LifeboatConfig, loadConfig } from "../config/load.js";
import { createLogger } from "../log.js";

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  logLevel?: string;
  quiet?: boolean;
}

export interface CommandContext {
  options: GlobalOptions;
  logger: Logger;
  signal: AbortSignal;
  loadConfig(): Promise<LifeboatConfig>;
  /** Prints the result: JSON on stdout with --json, else the human text. */
  print(result: unknown, human: () => string): void;
}

export async function createContext(options: GlobalOptions, signal: AbortSignal): Promise<CommandContext> {
  const level = options.logLevel ?? (options.quiet ? "warn" : "info");
  const logger = await createLogger({ level });
  return {
    options,
    logger,
    signal,
    loadConfig: () => loadConfig({ file: options.config }),
    print(result, human) {
      process.stdout.write(
        options.json ? `${JSON.stringify({ ok: true, result }, null, 2)}\n` : `${human()}\n`,
      );
    },
  };
}

/** Runs a command's body with a context; the body may return an exit code for outcomes that are not errors. */
export type CommandRunner = (fn: (ctx: CommandContext) => Promise<number | void>) => Promise<void>;
