// restic's exit codes and exit_error messages, turned into errors that tell the user what to do.
import { type ErrorCode, LifeboatError } from "../errors.js";

export interface ResticFailure {
  command: string;
  exitCode: number | undefined;
  signal?: string | undefined;
  /** The exit_error message, else the last lines of stderr. */
  message: string;
  repository: string;
  /** Where the password came from ("key file /x", "environment variable X"), for a wrong password's hint. */
  passwordFrom?: string | undefined;
}

const byExitCode: Record<number, { code: ErrorCode; hint: (f: ResticFailure) => string }> = {
  3: {
    code: "SNAPSHOT_INCOMPLETE",
    hint: () =>
      "Some files could not be read (see above); the snapshot was saved without them. Fix access and run again.",
  },
  10: {
    code: "REPOSITORY_MISSING",
    hint: (f) =>
      `No repository at ${f.repository}. Run \`lifeboat snapshot\` once to create it, or check the storage target in lifeboat.yaml.`,
  },
  11: {
    code: "REPOSITORY_LOCKED",
    hint: () =>
      "Another restic process holds the lock. Wait for it to finish; if none is running (a crash left the lock), run `lifeboat unlock --host HOST`.",
  },
  12: {
    code: "WRONG_PASSWORD",
    hint: (f) =>
      `The repository password${f.passwordFrom ? ` (from the ${f.passwordFrom})` : ""} does not open ${f.repository}. Check the target's passwordFile/passwordEnv against your recovery kit.`,
  },
  130: { code: "INTERRUPTED", hint: () => "Interrupted; nothing was lost. Run the command again." },
};

// What restic says when a pack or blob it needs cannot be read back as it was written.
// (A repository object named like <data/84be746c> that cannot be read or opened is damage too: a pack is missing.)
const DAMAGE =
  /ciphertext verification failed|invalid data returned|checksum mismatch|hash mismatch|does not match|pack \S+ (not found|does not exist)|blob \S+ not found|unexpected EOF|failed to load|\b(Load|ReadFull)\(<(data|tree|index|snapshot)\/|NoSuchKey|specified key does not exist/i;

/** Whether restic's words describe damage in the repository (not a problem of the target or the network). */
export const isRepositoryDamage = (message: string): boolean => DAMAGE.test(message);

export function resticError(f: ResticFailure, redact: (text: string) => string): LifeboatError {
  const known = f.exitCode === undefined ? undefined : byExitCode[f.exitCode];
  const message = redact(f.message.replace(/^Fatal: /, "").trim());
  const details = { resticCommand: f.command, resticExitCode: f.exitCode, signal: f.signal };
  if (known) {
    return new LifeboatError(known.code, `restic ${f.command}: ${message}`, { hint: known.hint(f), details });
  }
  if (f.signal === "SIGINT" || f.signal === "SIGTERM") {
    return new LifeboatError("INTERRUPTED", `restic ${f.command} was stopped by ${f.signal}`, {
      hint: "Nothing was lost. Run the command again.",
      details,
    });
  }
  if (/no space left on device|disk quota exceeded/i.test(message))
    return new LifeboatError("DISK_FULL", `restic ${f.command}: ${message}`, {
      hint: "Free space where restic writes (the repository's file system for a local target; restic's cache under $LIFEBOAT_HOME or ~/.cache), then run again; nothing already saved is lost.",
      details,
    });
  if (isRepositoryDamage(message))
    return new LifeboatError(
      "REPOSITORY_DAMAGED",
      `restic ${f.command}: the repository is damaged: ${message}`,
      {
        hint: "Run `lifeboat check` for this host (a full read finds everything affected), repair with restic's `repair index`, `repair packs` and `repair snapshots`, and snapshot the live host again. Do not prune before that.",
        details,
      },
    );
  return new LifeboatError(
    "RESTIC_FAILED",
    `restic ${f.command} failed: ${message || `exit code ${f.exitCode}`}`,
    {
      hint: "See restic's message above; run with --log-level debug for restic's full output.",
      details,
    },
  );
}
