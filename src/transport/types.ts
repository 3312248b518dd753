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
 * - `address()` is how other machines reach this host (an IP or name), for checks and reports.
 * - Calls may run concurrently.
 */
export interface Transport {
  readonly kind: "local" | "ssh" | "container";
  /** The host's name in Lifeboat (the policy's `host`). */
  readonly host: string;
  run(argv: string[], options?: RunOptions): Promise<RunResult>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: string | Buffer, mode?: number): Promise<void>;
  address(): Promise<string>;
}
