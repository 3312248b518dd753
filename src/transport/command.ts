// What the ssh and container transports share: files, results and remote stopping, built on one way to carry a
// command to the host through a local client (ssh, podman, docker).
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import { childEnv } from "../util/child-env.js";
import type { LaunchSpec, RunOptions, RunResult, Transport } from "./types.js";

/**
 * Runs on the host around a command whose stdin Lifeboat does not feed: the command gets /dev/null and runs in
 * its own process group, while the shell watches its own stdin, which the local client holds open. When the
 * client dies (timeout, Ctrl-C, a cut connection) that stdin ends, and the command's group gets SIGTERM: a
 * remote restic stops and releases its lock instead of running on unseen.
 */
export const WATCHED_EXEC =
  'exec 3<&0; if command -v setsid >/dev/null 2>&1; then setsid "$@" </dev/null 3<&- & else "$@" </dev/null 3<&- & fi; ' +
  'pid=$!; { cat <&3 >/dev/null 2>&1; kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; } </dev/null >/dev/null 2>&1 & ' +
  'w=$!; exec 3<&-; wait "$pid"; rc=$?; kill "$w" 2>/dev/null; exit "$rc"';

export interface ClientCommand {
  file: string;
  args: string[];
  /** The local client's complete environment, when it is not this process's. */
  env?: NodeJS.ProcessEnv;
  /** Bytes the client must read before the command's own stdin (the ssh prelude's variables). */
  prefix: Buffer;
}

export abstract class CommandTransport implements Transport {
  abstract readonly kind: Transport["kind"];
  abstract readonly host: string;
  abstract address(): Promise<string>;

  /**
   * The local client invocation that runs argv on the host with env added, under the rules of the Transport
   * contract; `watched` wraps it in WATCHED_EXEC.
   */
  protected abstract clientCommand(
    argv: string[],
    env: Record<string, string>,
    watched: boolean,
  ): ClientCommand;

  /** The typed error when the client itself failed (no connection, no container); else undefined. */
  protected abstract clientFailure(exitCode: number, stderr: string): LifeboatError | undefined;

  /** The command's exit code as the contract defines it, from the client's. */
  protected commandExitCode(exitCode: number, _stderr: string): number {
    return exitCode;
  }

  launch(argv: string[], env: Record<string, string> = {}): LaunchSpec {
    const c = this.clientCommand(argv, env, true);
    return {
      file: c.file,
      args: c.args,
      env: c.env ?? childEnv(),
      stdinPrefix: c.prefix,
      exitCode: (code, stderr) => this.checkClientExit(code, stderr),
    };
  }

  /** Turns a finished client's exit into the command's: a typed error when the host was not reached. */
  private checkClientExit(exitCode: number | undefined, stderr: string): number {
    const code = exitCode ?? 1;
    const failure = this.clientFailure(code, stderr);
    if (failure) throw failure;
    return this.commandExitCode(code, stderr);
  }

  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    const r = await this.exec(argv, options);
    return { exitCode: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr };
  }

  async readFile(file: string): Promise<Buffer> {
    const r = await this.exec(["cat", "--", file]);
    if (r.exitCode === 0) return r.stdout;
    if (/No such file/.test(r.stderr))
      throw new LifeboatError("HOST_FILE_MISSING", `${file} does not exist on ${this.host}`);
    throw new LifeboatError("INTERNAL", `cannot read ${file} on ${this.host}: ${r.stderr.trim()}`);
  }

  async writeFile(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
    // Write beside, then rename: a reader never sees half a file; umask keeps it private until chmod.
    const script = 'umask 077; t="$1.lifeboat-$$"; cat > "$t" && chmod "$2" "$t" && mv -f "$t" "$1"';
    const r = await this.exec(["sh", "-c", script, "lifeboat", file, mode.toString(8)], { stdin: data });
    if (r.exitCode !== 0)
      throw new LifeboatError("INTERNAL", `cannot write ${file} on ${this.host}: ${r.stderr.trim()}`);
  }

  /**
   * Runs argv on the host, stdout kept as bytes: exact bytes, no final newline stripped, timeout and abort
   * mapped to COMMAND_TIMEOUT and INTERRUPTED. Without stdin to feed, the command is watched, so that a timeout
   * or abort stops it on the host as well.
   */
  private async exec(
    argv: string[],
    options: RunOptions = {},
  ): Promise<{ exitCode: number; stdout: Buffer; stderr: string }> {
    if (argv.length === 0) throw new LifeboatError("INTERNAL", "run() needs a program");
    const watched = options.stdin === undefined;
    const c = this.clientCommand(argv, options.env ?? {}, watched);
    const child = execa(c.file, c.args, {
      // The client (ssh, podman) gets the basics and the command's own variables, never Lifeboat's environment.
      env: c.env ?? childEnv(),
      extendEnv: false,
      stdin: "pipe",
      encoding: "buffer",
      stripFinalNewline: false,
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5_000,
      reject: false,
    });
    // A client that exits early closes the pipe; that is its exit status's story, not an error here.
    child.stdin?.on("error", () => {});
    const input = Buffer.concat([c.prefix, Buffer.from(options.stdin ?? "")]);
    // Watched: stdin stays open until the client exits; its end is what stops the command on the host.
    if (watched) child.stdin?.write(input);
    else child.stdin?.end(input);
    const r = await child;
    if (r.timedOut) {
      throw new LifeboatError(
        "COMMAND_TIMEOUT",
        `${argv[0]} on ${this.host} did not finish within ${options.timeoutMs} ms`,
      );
    }
    if (r.isCanceled && options.signal?.reason instanceof LifeboatError) throw options.signal.reason;
    if (r.isCanceled) throw new LifeboatError("INTERRUPTED", `${argv[0]} on ${this.host} was interrupted`);
    const stderr = Buffer.from(r.stderr ?? []).toString();
    const exitCode = this.checkClientExit(r.exitCode, stderr);
    return { exitCode, stdout: Buffer.from(r.stdout ?? []), stderr };
  }
}
