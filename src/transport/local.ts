// The local transport: the host is this machine.
import { chmod, readFile, rename, writeFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import { childEnv, onlyEnv } from "../util/child-env.js";
import type { LaunchSpec, RunOptions, RunResult, Transport } from "./types.js";

export class LocalTransport implements Transport {
  readonly kind = "local" as const;
  constructor(readonly host: string) {}

  async run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = argv;
    if (!file) throw new LifeboatError("INTERNAL", "run() needs a program");
    const r = await execa(file, args, {
      // The environment carries the command's secrets safely (/proc/<pid>/environ is the same user's alone), and
      // only them: not the rest of Lifeboat's.
      ...onlyEnv(options.env),
      input: options.stdin ?? "",
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5_000,
      reject: false,
      stripFinalNewline: false,
    });
    if (r.timedOut) {
      throw new LifeboatError(
        "COMMAND_TIMEOUT",
        `${file} on ${this.host} did not finish within ${options.timeoutMs} ms`,
      );
    }
    if (r.isCanceled && options.signal?.reason instanceof LifeboatError) throw options.signal.reason;
    if (r.isCanceled) throw new LifeboatError("INTERRUPTED", `${file} on ${this.host} was interrupted`);
    // A program that does not exist: 127, as a shell (and so the ssh and container transports) reports it.
    const missing = (r.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
    return {
      exitCode: missing ? 127 : (r.exitCode ?? 1),
      stdout: String(r.stdout ?? ""),
      stderr: missing ? `${file}: command not found` : String(r.stderr ?? ""),
    };
  }

  launch(argv: string[], env: Record<string, string> = {}): LaunchSpec {
    const [file, ...args] = argv;
    if (!file) throw new LifeboatError("INTERNAL", "launch() needs a program");
    return {
      file,
      args,
      env: childEnv(env),
      stdinPrefix: undefined,
      exitCode: (code) => code ?? 1,
    };
  }

  async readFile(file: string): Promise<Buffer> {
    try {
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new LifeboatError("HOST_FILE_MISSING", `${file} does not exist on ${this.host}`);
      }
      throw err;
    }
  }

  async writeFile(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
    // Write beside, then rename: a reader never sees half a file.
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.lifeboat-${process.pid}`);
    await writeFile(tmp, data, { mode });
    await chmod(tmp, mode);
    await rename(tmp, file);
  }

  async address(): Promise<string> {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
    }
    return "127.0.0.1";
  }
}
