// Typed restic calls. Each is a thin layer over runRestic; none puts a secret in restic's arguments.
import { z } from "zod";
import { isLifeboatError, LifeboatError } from "../errors.js";
import { isRepositoryDamage } from "./errors.js";
import type {
  BackupStatus,
  BackupSummary,
  DiffChange,
  DiffStatistics,
  ForgetGroup,
  ItemError,
  LsNode,
  RestoreStatus,
  RestoreSummary,
  Snapshot,
} from "./messages.js";
import { type ResticContext, runRestic } from "./process.js";

const keyListSchema = z.array(
  z.object({ id: z.string(), current: z.boolean(), hostName: z.string(), userName: z.string() }),
);

export interface BackupOptions {
  paths: string[];
  excludes: string[];
  host: string;
  tags: string[];
  onStatus?: (status: BackupStatus) => void;
  onItemError?: (error: ItemError) => void;
}

export interface CommandBackupOptions {
  /** The program and its arguments, run by restic on the same host; its stdout is the snapshot's one file. */
  command: string[];
  /** The file's name in the snapshot (restic 0.18 refuses a name with directories in it). */
  filename: string;
  host: string;
  tags: string[];
  /** Variables for the command (PGPASSWORD...), passed through restic's environment; redacted everywhere. */
  env?: Record<string, string>;
  secrets?: string[];
}

// restic hands its whole environment to the command it runs: these never reach a dump program.
const RESTIC_SECRETS = [
  "RESTIC_PASSWORD",
  "RESTIC_PASSWORD_FILE",
  "RESTIC_PASSWORD_COMMAND",
  "RESTIC_REPOSITORY",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
];

export interface BackupResult {
  summary: BackupSummary;
  snapshotId: string;
  /** Files restic could not read (exit code 3: the snapshot exists but lacks them). */
  itemErrors: ItemError[];
  incomplete: boolean;
}

export interface RestoreOptions {
  snapshot: string;
  target: string;
  /** Only these paths of the snapshot. */
  include?: string[];
  verify?: boolean;
  onStatus?: (status: RestoreStatus) => void;
  /** The host whose repository it is, for what a failure says to run. */
  host?: string | undefined;
}

export interface RestoreResult {
  summary: RestoreSummary;
  itemErrors: ItemError[];
}

export interface ForgetOptions {
  host: string;
  tags: string[];
  keep: Partial<Record<"last" | "hourly" | "daily" | "weekly" | "monthly" | "yearly", number>>;
  prune: boolean;
  dryRun: boolean;
}

/** The repository a copy reads from (restic's RESTIC_FROM_* variables). */
export type CopySource = Pick<ResticRepository, "ctx">;

/**
 * The source repository's location and password as restic copy takes them. restic has one set of storage
 * credentials for both: the source's count only where the destination has none (a vault's directory has none).
 */
function sourceEnv(source: CopySource, destination: Record<string, string>): Record<string, string> {
  const { RESTIC_PASSWORD, RESTIC_PASSWORD_FILE, RESTIC_KEY_HINT, ...credentials } = source.ctx.secretEnv;
  const missing = Object.fromEntries(Object.entries(credentials).filter(([k]) => !(k in destination)));
  return {
    ...missing,
    RESTIC_FROM_REPOSITORY: source.ctx.repository,
    ...(RESTIC_PASSWORD ? { RESTIC_FROM_PASSWORD: RESTIC_PASSWORD } : {}),
    ...(RESTIC_PASSWORD_FILE ? { RESTIC_FROM_PASSWORD_FILE: RESTIC_PASSWORD_FILE } : {}),
    ...(RESTIC_KEY_HINT ? { RESTIC_FROM_KEY_HINT: RESTIC_KEY_HINT } : {}),
  };
}

/** The source's CA files: restic takes --cacert more than once, and one call reaches both repositories. */
function sourceCaArgs(source: CopySource, destination: readonly string[]): string[] {
  const args = source.ctx.globalArgs ?? [];
  const out: string[] = [];
  for (let i = 0; i < args.length - 1; i++) {
    const file = args[i + 1];
    if (args[i] === "--cacert" && file && !destination.includes(file)) out.push("--cacert", file);
  }
  return out;
}

export class ResticRepository {
  constructor(readonly ctx: ResticContext) {}

  /**
   * Runs a lock-taking call; when the repository is locked, clears stale locks (`restic unlock` removes
   * only locks of dead processes on this host, or older than 30 minutes) and tries once more. A lock
   * held by a live process stays, and the call fails with REPOSITORY_LOCKED.
   */
  private async lockAware<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof LifeboatError) || err.code !== "REPOSITORY_LOCKED") throw err;
      this.ctx.logger?.warn(
        { repository: this.ctx.repository },
        "repository locked: clearing stale locks and retrying once",
      );
      try {
        await this.unlock();
      } catch {
        throw err;
      }
      return call();
    }
  }

  /** Opens the repository's config: proves the password without taking a lock or reading data. */
  async openConfig(): Promise<void> {
    await runRestic(this.ctx, "cat", { args: ["config"], onLine: () => {} });
  }

  /** The repository's keys; `current` is the one this password opened (which proves it). */
  async keys(): Promise<Array<{ id: string; current: boolean; hostName: string; userName: string }>> {
    const lines: string[] = [];
    await runRestic(this.ctx, "key", { args: ["list"], onLine: (l) => lines.push(l) });
    const parsed = keyListSchema.safeParse(JSON.parse(lines.join("\n") || "[]"));
    if (!parsed.success)
      throw new LifeboatError("RESTIC_FAILED", "restic key list printed something Lifeboat cannot read", {
        hint: "Check that restic is 0.17 or newer (`restic version`).",
      });
    return parsed.data;
  }

  /** Adds a key whose password is in `passwordFile` (on the machine restic runs on); returns its id. */
  async addKey(passwordFile: string, label: { host: string; user: string }): Promise<string> {
    let id = "";
    await runRestic(this.ctx, "key", {
      args: ["add", "--new-password-file", passwordFile, "--host", label.host, "--user", label.user],
      onLine: (l) => {
        id = /saved new key with ID ([0-9a-f]{64})/.exec(l)?.[1] ?? id;
      },
    });
    if (!id)
      throw new LifeboatError("RESTIC_FAILED", "restic key add did not say which key it saved", {
        hint: "Check that restic is 0.17 or newer (`restic version`).",
      });
    return id;
  }

  /** Copies `host`'s snapshots that this repository lacks from `source` (restic copy is idempotent). */
  async copyFrom(source: CopySource, host: string): Promise<void> {
    await this.lockAware(() =>
      runRestic(this.ctx, "copy", {
        args: [...sourceCaArgs(source, this.ctx.globalArgs ?? []), "--host", host],
        env: sourceEnv(source, this.ctx.secretEnv),
        secrets: source.ctx.secrets,
        onLine: () => {},
      }),
    );
  }

  async init(chunkerFrom?: CopySource): Promise<{ id: string }> {
    let id = "";
    await runRestic(this.ctx, "init", {
      // A copy's repository takes its source's chunker parameters, so that copied data deduplicates.
      args: chunkerFrom
        ? [...sourceCaArgs(chunkerFrom, this.ctx.globalArgs ?? []), "--copy-chunker-params"]
        : [],
      ...(chunkerFrom
        ? { env: sourceEnv(chunkerFrom, this.ctx.secretEnv), secrets: chunkerFrom.ctx.secrets }
        : {}),
      onMessage: (m) => {
        if (m.message_type === "initialized" && typeof m.id === "string") id = m.id;
      },
    });
    return { id };
  }

  async backup(options: BackupOptions): Promise<BackupResult> {
    const args = ["--host", options.host];
    // Without a progress consumer, --quiet spares restic its scanner (a second walk that only feeds ETAs).
    if (!options.onStatus) args.push("--quiet");
    for (const tag of options.tags) args.push("--tag", tag);
    for (const pattern of options.excludes) args.push("--exclude", pattern);
    args.push("--", ...options.paths);
    let summary: BackupSummary | undefined;
    const itemErrors: ItemError[] = [];
    const { exitCode } = await this.lockAware(() =>
      runRestic(this.ctx, "backup", {
        args,
        allowExitCodes: [3],
        onMessage: (m) => {
          if (m.message_type === "status") options.onStatus?.(m as unknown as BackupStatus);
          else if (m.message_type === "summary") summary = m as unknown as BackupSummary;
          else if (m.message_type === "error") {
            const e = m as unknown as ItemError;
            if (itemErrors.length < 1000) itemErrors.push(e);
            options.onItemError?.(e);
          }
        },
      }),
    );
    if (!summary?.snapshot_id) {
      throw new LifeboatError("RESTIC_FAILED", "restic backup finished without reporting a snapshot", {
        hint: "Run `lifeboat snapshots` to see whether a snapshot was saved, then run the snapshot again.",
      });
    }
    return { summary, snapshotId: summary.snapshot_id, itemErrors, incomplete: exitCode === 3 };
  }

  /**
   * A snapshot of one command's output (a database dump), streamed by restic with --stdin-from-command: no
   * temporary file anywhere. When the command fails, restic saves no snapshot and this throws DUMP_FAILED
   * with the command's own last words (restic prefixes its stderr with "subprocess <name>: ").
   */
  async backupFromCommand(options: CommandBackupOptions): Promise<BackupResult> {
    if (options.filename.includes("/"))
      throw new LifeboatError(
        "INTERNAL",
        `a command snapshot's file name has no directories: ${options.filename}`,
      );
    const args = [
      "--host",
      options.host,
      "--quiet",
      "--stdin-from-command",
      "--stdin-filename",
      options.filename,
    ];
    for (const tag of options.tags) args.push("--tag", tag);
    args.push("--", "env", ...RESTIC_SECRETS.flatMap((name) => ["-u", name]), ...options.command);
    const said: string[] = [];
    let summary: BackupSummary | undefined;
    try {
      await this.lockAware(() =>
        runRestic(this.ctx, "backup", {
          args,
          ...(options.env ? { env: options.env } : {}),
          ...(options.secrets ? { secrets: options.secrets } : {}),
          onStderrLine: (line) => {
            const m = /^subprocess [^:]*: (.*)$/.exec(line);
            if (m?.[1] && said.length < 20) said.push(m[1]);
          },
          onMessage: (m) => {
            if (m.message_type === "summary") summary = m as unknown as BackupSummary;
          },
        }),
      );
    } catch (err) {
      const failed =
        err instanceof LifeboatError && /command failed|executable file not found/.test(err.message);
      if (!failed) throw err;
      const status = /command failed: (.*)$/.exec(err.message)?.[1] ?? err.message;
      throw new LifeboatError(
        "DUMP_FAILED",
        `${options.command[0]} failed (${status}); no snapshot of ${options.filename} was saved${said.length ? `: ${said.join(" / ")}` : ""}`,
        {
          hint: "The previous snapshot of this data is untouched. Fix what the dump program says, then snapshot again.",
          cause: err,
          details: { output: said },
        },
      );
    }
    if (!summary?.snapshot_id) {
      throw new LifeboatError("RESTIC_FAILED", "restic backup finished without reporting a snapshot", {
        hint: "Run `lifeboat snapshots` to see whether a snapshot was saved, then run the snapshot again.",
      });
    }
    return { summary, snapshotId: summary.snapshot_id, itemErrors: [], incomplete: false };
  }

  async snapshots(filter: { host?: string; tags?: string[] } = {}): Promise<Snapshot[]> {
    const args: string[] = [];
    if (filter.host) args.push("--host", filter.host);
    if (filter.tags?.length) args.push("--tag", filter.tags.join(","));
    const lines: string[] = [];
    await runRestic(this.ctx, "snapshots", { args, onLine: (l) => lines.push(l) });
    const text = lines.join("\n").trim();
    return text ? (JSON.parse(text) as Snapshot[]) : [];
  }

  /**
   * Streams the nodes of a snapshot: all of them, or under `paths` each path and its direct children (everything
   * below with `recursive`).
   */
  async ls(
    snapshot: string,
    onNode: (node: LsNode) => void,
    paths: string[] = [],
    options: { recursive?: boolean } = {},
  ): Promise<void> {
    await runRestic(this.ctx, "ls", {
      args: [...(options.recursive ? ["--recursive"] : []), snapshot, ...paths],
      onMessage: (m) => {
        if (m.message_type === "node") onNode(m as unknown as LsNode);
      },
      onLine: (line) => {
        // restic 0.17 prints nodes with struct_type instead of message_type.
        if (line.includes('"struct_type":"node"')) onNode(JSON.parse(line) as LsNode);
      },
    });
  }

  /** The snapshots that hold a name matching `pattern` (restic's glob; a full path when it begins with /). */
  async find(
    pattern: string,
    filter: { host?: string; tags?: string[] } = {},
  ): Promise<Array<{ snapshot: string; matches: LsNode[] }>> {
    const args: string[] = [];
    if (filter.host) args.push("--host", filter.host);
    if (filter.tags?.length) args.push("--tag", filter.tags.join(","));
    const lines: string[] = [];
    await runRestic(this.ctx, "find", { args: [...args, "--", pattern], onLine: (l) => lines.push(l) });
    const text = lines.join("\n").trim();
    return text ? (JSON.parse(text) as Array<{ snapshot: string; matches: LsNode[] }>) : [];
  }

  /** What changed from snapshot `a` to `b`: each path with restic's modifier (+ - M T U), and the totals. */
  async diff(
    a: string,
    b: string,
  ): Promise<{ changes: DiffChange[]; statistics: DiffStatistics | undefined }> {
    const changes: DiffChange[] = [];
    let statistics: DiffStatistics | undefined;
    await runRestic(this.ctx, "diff", {
      args: [a, b],
      onMessage: (m) => {
        if (m.message_type === "change") changes.push(m as unknown as DiffChange);
        else if (m.message_type === "statistics") statistics = m as unknown as DiffStatistics;
      },
    });
    return { changes, statistics };
  }

  async restore(options: RestoreOptions): Promise<RestoreResult> {
    const args = [options.snapshot, "--target", options.target];
    if (options.verify !== false) args.push("--verify");
    if (!options.onStatus) args.push("--quiet");
    for (const p of options.include ?? []) args.push("--include", p);
    let summary: RestoreSummary | undefined;
    const itemErrors: ItemError[] = [];
    try {
      await this.lockAware(() =>
        runRestic(this.ctx, "restore", {
          args,
          onMessage: (m) => {
            if (m.message_type === "status") options.onStatus?.(m as unknown as RestoreStatus);
            else if (m.message_type === "summary") summary = m as unknown as RestoreSummary;
            else if (m.message_type === "error" && itemErrors.length < 1000)
              itemErrors.push(m as unknown as ItemError);
          },
        }),
      );
    } catch (err) {
      throw restoreFailure(err, options, itemErrors);
    }
    return { summary: summary ?? { message_type: "summary" }, itemErrors };
  }

  async forget(options: ForgetOptions): Promise<ForgetGroup[]> {
    // One group per host and path set: the files and each database's dumps are kept by the rules separately.
    const args = ["--host", options.host, "--group-by", "host,paths"];
    if (options.tags.length) args.push("--tag", options.tags.join(","));
    for (const [rule, n] of Object.entries(options.keep)) if (n) args.push(`--keep-${rule}`, String(n));
    if (options.prune) args.push("--prune");
    if (options.dryRun) args.push("--dry-run");
    const lines: string[] = [];
    await this.lockAware(() => runRestic(this.ctx, "forget", { args, onLine: (l) => lines.push(l) }));
    const json = lines.find((l) => l.startsWith("["));
    return json ? (JSON.parse(json) as ForgetGroup[]) : [];
  }

  /** `restic check`, reading `readDataSubset` (e.g. "1/7") of the pack files when given. */
  async check(readDataSubset?: string): Promise<{ output: string }> {
    const args = readDataSubset ? [`--read-data-subset=${readDataSubset}`] : [];
    const lines: string[] = [];
    await this.lockAware(() =>
      runRestic(this.ctx, "check", {
        args,
        onLine: (l) => lines.push(l),
        onMessage: (m) => lines.push(JSON.stringify(m)),
      }),
    );
    return { output: lines.join("\n") };
  }

  async unlock(removeAll = false): Promise<void> {
    await runRestic(this.ctx, "unlock", { args: removeAll ? ["--remove-all"] : [] });
  }
}

/**
 * A failed restore in restic's own words: which files, which pack or blob, and whether that is damage in the
 * repository (REPOSITORY_DAMAGED) rather than "There were 1 errors".
 */
function restoreFailure(err: unknown, options: RestoreOptions, itemErrors: readonly ItemError[]): unknown {
  if (!isLifeboatError(err) || err.code === "INTERRUPTED" || itemErrors.length === 0) return err;
  // restic reports one damaged blob once per file that needs it: the same line many times says nothing more.
  const distinct = [...new Set(itemErrors.map((e) => `${e.item ?? "?"}: ${e.error.message}`))];
  const lines = distinct.slice(0, 3);
  const more = distinct.length > lines.length ? `; and ${distinct.length - lines.length} more` : "";
  const what = `restic restore of ${options.snapshot.slice(0, 8)}: ${itemErrors.length} error(s): ${lines.join("; ")}${more}`;
  if (!itemErrors.some((e) => isRepositoryDamage(e.error.message)))
    return new LifeboatError(err.code, what, { hint: err.hint, details: err.details, cause: err });
  return new LifeboatError("REPOSITORY_DAMAGED", what, {
    hint:
      `The repository is damaged: data restic wrote cannot be read back. Run \`lifeboat check --host ${options.host ?? "<host>"}\` to see ` +
      "what is affected (a full read: `restic check --read-data`), then repair with restic (`restic repair index`, " +
      "`restic repair packs`, `restic repair snapshots`) and take a new snapshot from the live host, which stores " +
      "the lost data again. Do not prune before that.",
    details: err.details,
    cause: err,
  });
}
