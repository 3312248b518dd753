// Runs the real `lifeboat` binary (the built dist/) as a user would.
import path from "node:path";
import { execa } from "execa";

const BIN = path.resolve(import.meta.dirname, "../../bin/lifeboat.js");

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const cliOptions = (env: NodeJS.ProcessEnv, cwd?: string) =>
  ({ env, cwd, reject: false, stdin: "ignore" }) as const;

/** `forceKillAfterDelay: false` lets a signalled process take its time to stop (the daemon's grace period). */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
  options: { forceKillAfterDelay?: number | false } = {},
) {
  return execa(process.execPath, [BIN, ...args], { ...cliOptions(env, cwd), ...options });
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<CliResult> {
  const r = await startCli(args, env, cwd);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The `result` of a successful --json run, or the failure with its output. */
export function jsonResult<T>(r: CliResult): T {
  if (r.exitCode !== 0)
    throw new Error(`lifeboat exited ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { result: T }).result;
}
