// What the ssh and container transports share: files and results built on one way to execute a command.
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import type { RunOptions, RunResult, Transport } from "./types.js";

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
}

export abstract class CommandTransport implements Transport {
  abstract readonly kind: Transport["kind"];
  abstract readonly host: string;

  /** Runs argv on the host, stdout kept as bytes; the Transport contract's rules for argv, env and stdin. */
  protected abstract exec(argv: string[], options?: RunOptions): Promise<ExecResult>;
  abstract address(): Promise<string>;

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
   * Runs the local client (ssh, podman, docker) that carries a command to the host: exact bytes, no final
   * newline stripped, timeout and abort mapped to COMMAND_TIMEOUT and INTERRUPTED.
   */
  protected async spawnClient(
    file: string,
    args: string[],
    argv: string[],
    options: RunOptions,
    io: { input: Buffer | string; env?: NodeJS.ProcessEnv },
  ): Promise<{ exitCode: number | undefined; stdout: Buffer; stderr: string }> {
    const r = await execa(file, args, {
      ...(io.env ? { env: io.env } : {}),
      input: io.input,
      encoding: "buffer",
      stripFinalNewline: false,
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5_000,
      reject: false,
    });
    if (r.timedOut) {
      throw new LifeboatError(
        "COMMAND_TIMEOUT",
        `${argv[0]} on ${this.host} did not finish within ${options.timeoutMs} ms`,
      );
    }
    if (r.isCanceled) throw new LifeboatError("INTERRUPTED", `${argv[0]} on ${this.host} was interrupted`);
    return {
      exitCode: r.exitCode,
      stdout: Buffer.from(r.stdout ?? []),
      stderr: Buffer.from(r.stderr ?? []).toString(),
    };
  }
}
