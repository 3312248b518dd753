// pino to stderr: JSON for machines, pretty on a terminal; secrets redacted by key wherever they appear.
import { type Logger, pino } from "pino";

export const REDACT_PATHS = [
  "password",
  "*.password",
  "secret",
  "*.secret",
  "env.RESTIC_PASSWORD",
  "secretEnv",
  "*.secretEnv",
  "env.AWS_SECRET_ACCESS_KEY",
  "env.AWS_SESSION_TOKEN",
];

export interface LoggerOptions {
  level?: string;
  /** Pretty lines for a person at a terminal (default: when stderr is a TTY). */
  pretty?: boolean;
}

export async function createLogger(options: LoggerOptions = {}): Promise<Logger> {
  const level = options.level ?? "info";
  const base = { level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: { pid: process.pid } };
  if (options.pretty ?? process.stderr.isTTY) {
    // Loaded only for a terminal: it costs start-up time that scripted runs need not pay.
    const { default: pretty } = await import("pino-pretty");
    return pino(base, pretty({ destination: 2, ignore: "pid,hostname", sync: true, singleLine: true }));
  }
  return pino(base, pino.destination({ dest: 2, sync: true }));
}
