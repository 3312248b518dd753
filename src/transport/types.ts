// How Lifeboat reaches a host. Every implementation passes test/transport/conformance.ts.

export interface RunOptions {
  /** Bytes for the command's standard input; it sees end-of-file after them. Default: none (immediate EOF). */
  stdin?: string | Buffer;
  /** Variables added to the command's environment. Values may be secrets: see `Transport.run`. */
  env?: Record<string, string>;
  /** Kill the command after this long and reject with COMMAND_TIMEOUT. */
  timeoutMs?: number;
  /** Abort: the command is stopped and the call rejects with INTERRUPTED. */
  signal?: AbortSignal;
}

export interface RunResult {
  /** The command's exit code; a program that does not exist gives 127, as in a shell. */
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A command on the host started from this machine by a local process whose output the caller streams itself. */
export interface LaunchSpec {
  file: string;
  args: string[];
  /** The local process's complete environment. */
  env: NodeJS.ProcessEnv;
  /**
   * When set, the caller writes these bytes to the local process's stdin and then keeps stdin open until the
   * process exits: the end of that stdin is what stops the command on the host once the local process is killed.
   */
  stdinPrefix: Buffer | undefined;
  /** The command's exit code from the local process's; throws HOST_UNREACHABLE when the host was not reached. */
  exitCode(localExitCode: number | undefined, stderr: string): number;
}

/**
 * A host as Lifeboat sees it. The contract, which the conformance suite checks for every implementation:
 *
 * - `run(argv)` runs argv[0] with the arguments exactly as given: no shell interprets them on either machine.
 *   A non-zero exit is a result, not an error. It rejects only when the host cannot be reached
 *   (HOST_UNREACHABLE, naming the host and why), on timeout (COMMAND_TIMEOUT) or abort (INTERRUPTED).
 * - Values in `env` and bytes on `stdin` never appear in the argv of any process on either machine, so they
 *   may carry secrets (a repository password, S3 keys).
 * - `writeFile` creates or replaces a file with exactly the given bytes and mode; `readFile` returns exactly
 *   the bytes, and rejects with HOST_FILE_MISSING when there is no such file.
 * - A command started without stdin stops on the host too when it times out or is aborted (or the connection
 *   drops): its process group gets SIGTERM. A command fed stdin ends when its input does.
 * - `launch(argv, env)` describes how to start argv on the host for a caller that streams the output itself
 *   (restic's JSON lines), with the same rules for env and remote stopping as `run`.
 * - `address()` is how other machines reach this host (an IP or name), for checks and reports.
 * - Calls may run concurrently.
 */
export interface Transport {
  readonly kind: "local" | "ssh" | "container";
  /** The host's name in Lifeboat (the policy's `host`). */
  readonly host: string;
  run(argv: string[], options?: RunOptions): Promise<RunResult>;
  launch(argv: string[], env?: Record<string, string>): LaunchSpec;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: string | Buffer, mode?: number): Promise<void>;
  address(): Promise<string>;
}
