// Runs the real `lifeboat` binary (the built dist/) as a user would.
import path from "node:path";
import { execa } from "execa";

const BIN = path.resolve(import.meta.dirname, "../../bin/lifeboat.js");

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** For a host that could not be reached (exit 13): this machine's view of the container network just after. */
  network?: string;
}

// An ssh session into a fleet container once went silent for a minute in CI and never here: what the bridge,
// its neighbours and the containers looked like then is what the next such failure must show.
const NETWORK_VIEW = [
  "ip -br addr show podman0",
  "ip -br link show master podman0",
  "ip neigh show dev podman0",
  "podman ps --format '{{.Names}} {{.Status}} {{.Networks}}'",
  "ss -tnoi state established '( dport = :22 )'",
  "uptime",
].join("; echo ---; ");

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
  const result: CliResult = {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  };
  if (result.exitCode === 13)
    result.network = String((await execa("sh", ["-c", NETWORK_VIEW], { reject: false, all: true })).all);
  assertNoInternal(args, result);
  return result;
}

// Bad input and faults get a typed error that says what to do; INTERNAL (a bug, with a stack trace) must be
// unreachable from anything a test does. Every CLI run in every test is checked.
const INTERNAL = /error \[INTERNAL\]|"code":\s*"INTERNAL"/;
const STACK_FRAME = /\n\s+at (?:async )?\S+ \((?:file:\/\/|\/)[^)]+:\d+:\d+\)/;

export function assertNoInternal(args: readonly string[], r: { stdout: string; stderr: string }): void {
  const out = `${r.stdout}\n${r.stderr}`;
  if (INTERNAL.test(out) || STACK_FRAME.test(out))
    throw new Error(`lifeboat ${args.join(" ")} printed an INTERNAL error or a stack trace:\n${out}`);
}

/** The `result` of a successful --json run, or the failure with its output. */
export function jsonResult<T>(r: CliResult): T {
  if (r.exitCode !== 0)
    throw new Error(
      `lifeboat exited ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}${r.network ? `\nnetwork: ${r.network}` : ""}`,
    );
  return (JSON.parse(r.stdout) as { result: T }).result;
}
