// The repository password: from a 0600 file or an environment variable, never from YAML or argv.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { PasswordSource } from "../config/load.js";
import { LifeboatError } from "../errors.js";

export interface ResolvedPassword {
  /** Variables for restic's environment. */
  env: Record<string, string>;
  /** The secret itself, so that every message can be scrubbed of it. */
  secret: string;
}

export async function resolvePassword(
  source: PasswordSource,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedPassword> {
  if (source.kind === "env") {
    const value = env[source.variable];
    if (!value) {
      throw new LifeboatError(
        "PASSWORD_MISSING",
        `the repository password variable ${source.variable} is not set`,
        {
          hint: `Export ${source.variable} with the password from your recovery kit, then run the command again.`,
        },
      );
    }
    return { env: { RESTIC_PASSWORD: value }, secret: value };
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(source.path);
  } catch {
    throw new LifeboatError("PASSWORD_MISSING", `the repository key file ${source.path} does not exist`, {
      hint: "Put the key file from your recovery kit back at that path (mode 0600). Without it the repository cannot be read.",
    });
  }
  if ((info.mode & 0o077) !== 0) {
    throw new LifeboatError(
      "PASSWORD_INSECURE",
      `the key file ${source.path} is readable by others (mode ${(info.mode & 0o777).toString(8)})`,
      { hint: `Run \`chmod 600 ${source.path}\`; Lifeboat refuses keys others can read.` },
    );
  }
  const secret = (await readFile(source.path, "utf8")).replace(/\r?\n$/, "");
  if (!secret) {
    throw new LifeboatError("PASSWORD_MISSING", `the key file ${source.path} is empty`, {
      hint: "Restore the key file from your recovery kit.",
    });
  }
  return { env: { RESTIC_PASSWORD_FILE: source.path }, secret };
}

/** Writes a new random key file with mode 0600; refuses to overwrite one that exists. */
export async function generateKeyFile(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString("base64url");
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Another run created it first (two hosts' first snapshots at once): use that one.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
