// One error type for everything a user can cause or fix; the CLI maps it to an exit code in one place.

/** Exit codes. Where restic has a code for the same condition, Lifeboat uses the same number. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  incomplete: 3,
  dataMissing: 4,
  environment: 5,
  verifyFailed: 6,
  secretMissing: 7,
  storageUnavailable: 8,
  degraded: 9,
  hostUnreachable: 13,
  timedOut: 14,
  rpoBreached: 15,
  diskFull: 16,
  repositoryMissing: 10,
  repositoryLocked: 11,
  wrongPassword: 12,
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const exitCodeByErrorCode = {
  USAGE: ExitCode.usage,
  CONFIG_INVALID: ExitCode.usage,
  POLICY_INVALID: ExitCode.usage,
  HOST_UNKNOWN: ExitCode.usage,
  SNAPSHOT_INCOMPLETE: ExitCode.incomplete,
  DATA_MISSING: ExitCode.dataMissing,
  RESTIC_MISSING: ExitCode.environment,
  RESTIC_TOO_OLD: ExitCode.environment,
  RESTORE_VERIFY_FAILED: ExitCode.verifyFailed,
  RESTORE_TARGET_NOT_EMPTY: ExitCode.usage,
  RESTORE_TARGET_NEWER: ExitCode.usage,
  PATH_NOT_IN_SNAPSHOT: ExitCode.usage,
  SNAPSHOT_NOT_FOUND: ExitCode.usage,
  PASSWORD_MISSING: ExitCode.secretMissing,
  PASSWORD_INSECURE: ExitCode.secretMissing,
  CREDENTIALS_MISSING: ExitCode.secretMissing,
  STORAGE_UNREACHABLE: ExitCode.storageUnavailable,
  STORAGE_ACCESS_DENIED: ExitCode.storageUnavailable,
  STORAGE_TLS: ExitCode.storageUnavailable,
  BUCKET_MISSING: ExitCode.storageUnavailable,
  REPOSITORY_MISSING: ExitCode.repositoryMissing,
  REPOSITORY_LOCKED: ExitCode.repositoryLocked,
  HOST_BUSY: ExitCode.repositoryLocked,
  WRONG_PASSWORD: ExitCode.wrongPassword,
  INTERRUPTED: ExitCode.interrupted,
  RESTIC_FAILED: ExitCode.failure,
  REPOSITORY_DAMAGED: ExitCode.failure,
  HOST_UNREACHABLE: ExitCode.hostUnreachable,
  HOST_FILE_MISSING: ExitCode.failure,
  HOST_SETUP_FAILED: ExitCode.failure,
  AUDIT_UNSUPPORTED: ExitCode.environment,
  AUDIT_FAILED: ExitCode.failure,
  DUMP_FAILED: ExitCode.failure,
  HOOK_FAILED: ExitCode.failure,
  LOAD_FAILED: ExitCode.failure,
  COMMAND_TIMEOUT: ExitCode.timedOut,
  RUNBOOK_INVALID: ExitCode.usage,
  HOST_EXISTS: ExitCode.usage,
  PROVISION_FAILED: ExitCode.failure,
  MACHINE_NOT_OURS: ExitCode.failure,
  STEP_FAILED: ExitCode.failure,
  CHECK_FAILED: ExitCode.verifyFailed,
  CHECK_NOT_ISOLATED: ExitCode.verifyFailed,
  RPO_BREACHED: ExitCode.rpoBreached,
  DRILL_NOT_ISOLATED: ExitCode.usage,
  ISOLATION_UNAVAILABLE: ExitCode.environment,
  VIRTUALIZATION_UNAVAILABLE: ExitCode.environment,
  DISK_FULL: ExitCode.diskFull,
  SNAPSHOT_SUSPICIOUS: ExitCode.degraded,
  INTERNAL: ExitCode.failure,
} as const satisfies Record<string, ExitCodeValue>;

export type ErrorCode = keyof typeof exitCodeByErrorCode;

/** Whether a code read back as text (a report's failure) is one of Lifeboat's. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(exitCodeByErrorCode, code);
}

export interface LifeboatErrorOptions {
  /** What the user should do next; printed under the message. */
  hint?: string;
  /** Structured detail for --json output (never secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class LifeboatError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: LifeboatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LifeboatError";
    this.code = code;
    this.exitCode = exitCodeByErrorCode[code];
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      exitCode: this.exitCode,
      message: this.message,
      hint: this.hint,
      details: this.details,
    };
  }
}

/**
 * A run that finished with a result that is a failure (a drill whose check failed, an interrupted recovery): the
 * result travels with the error, typed (and is the outcome in the details of --json output).
 */
export class RunFailed<R> extends LifeboatError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly result: R,
    options: Omit<LifeboatErrorOptions, "details"> = {},
  ) {
    super(code, message, { ...options, details: { outcome: result } });
  }
}

// Unlike `instanceof`, this survives two copies of the module (tests, bundlers).
export function isLifeboatError(value: unknown): value is LifeboatError {
  return value instanceof Error && (value as { name?: unknown }).name === "LifeboatError";
}

/**
 * The typed error for anything thrown: a LifeboatError as it is; a full disk as DISK_FULL naming the path; only
 * what nobody foresaw is INTERNAL (a bug, with its stack).
 */
export function asLifeboatError(err: unknown): LifeboatError {
  if (isLifeboatError(err)) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === "ENOSPC" || e?.code === "EDQUOT")
    return new LifeboatError(
      "DISK_FULL",
      `no space left to write ${e.path ?? "a file"}${e.code === "EDQUOT" ? " (disk quota)" : ""}`,
      {
        hint: "Free space on that file system ($LIFEBOAT_HOME holds keys, the record spool and restic's cache: `du -sh` it), then run again; nothing already saved is lost.",
      },
    );
  return new LifeboatError("INTERNAL", `unexpected error: ${e?.stack ?? String(err)}`, {
    hint: "This is a bug in Lifeboat; please report it with the command you ran.",
  });
}
