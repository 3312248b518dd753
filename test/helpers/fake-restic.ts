// A tiny stand-in for restic on PATH, for failures that are hard to provoke with the real one.
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export interface FakeResticOptions {
  version?: string;
  /** Exit code for every command but `version`. */
  exitCode: number;
  /** The exit_error message restic would print. */
  message: string;
  /** Hang this long before failing, like a restic that is busy (for interruption tests). */
  sleepSeconds?: number;
  /** Per subcommand: JSON lines to print on stdout and the exit code, instead of the failure above. */
  commands?: Record<string, { stdout: object[]; exitCode: number }>;
}

/** Writes a fake `restic` and returns the directory to put first on PATH. */
export async function fakeRestic(options: FakeResticOptions): Promise<{ dir: string; binary: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), "fake-restic-"));
  const binary = path.join(dir, "restic");
  const exitError = JSON.stringify({
    message_type: "exit_error",
    code: options.exitCode,
    message: options.message,
  });
  const perCommand = Object.entries(options.commands ?? {})
    .map(([name, c]) => {
      const lines = c.stdout.map((o) => `echo '${JSON.stringify(o)}'`).join("; ");
      return `if [ "$1" = ${name} ]; then ${lines || ":"}; exit ${c.exitCode}; fi`;
    })
    .join("\n");
  await writeFile(
    binary,
    `#!/bin/sh
if [ "$1" = version ]; then echo "restic ${options.version ?? "0.18.0"} compiled with go1.24 on linux/amd64"; exit 0; fi
${perCommand}
${options.sleepSeconds ? `exec sleep ${options.sleepSeconds}` : ""}
echo '${exitError}' >&2
exit ${options.exitCode}
`,
  );
  await chmod(binary, 0o755);
  return { dir, binary };
}
