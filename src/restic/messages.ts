// restic's --json messages (0.17+), typed by message_type. Only the fields Lifeboat uses are named.

export interface BackupStatus {
  message_type: "status";
  seconds_elapsed?: number;
  percent_done: number;
  total_files?: number;
  files_done?: number;
  total_bytes?: number;
  bytes_done?: number;
  error_count?: number;
  current_files?: string[];
}

export interface BackupSummary {
  message_type: "summary";
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_added: number;
  data_added_packed?: number;
  total_files_processed: number;
  total_bytes_processed: number;
  total_duration: number;
  snapshot_id?: string;
}

export interface ItemError {
  message_type: "error";
  error: { message: string };
  during?: string;
  item?: string;
}

export interface ExitError {
  message_type: "exit_error";
  code: number;
  message: string;
}

export interface RestoreStatus {
  message_type: "status";
  seconds_elapsed?: number;
  percent_done: number;
  total_files?: number;
  files_restored?: number;
  files_skipped?: number;
  total_bytes?: number;
  bytes_restored?: number;
  bytes_skipped?: number;
}

export interface RestoreSummary {
  message_type: "summary";
  seconds_elapsed?: number;
  total_files?: number;
  files_restored?: number;
  files_skipped?: number;
  files_deleted?: number;
  total_bytes?: number;
  bytes_restored?: number;
  bytes_skipped?: number;
}

export interface SnapshotSummary {
  backup_start: string;
  backup_end: string;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  data_added: number;
  total_files_processed: number;
  total_bytes_processed: number;
}

export interface Snapshot {
  id: string;
  short_id: string;
  time: string;
  hostname: string;
  paths: string[];
  tags?: string[];
  excludes?: string[];
  program_version?: string;
  summary?: SnapshotSummary;
}

export interface LsNode {
  message_type?: "node";
  struct_type?: "node";
  name: string;
  type: "file" | "dir" | "symlink" | string;
  path: string;
  size?: number;
  mode?: number;
  /** ls -l style, e.g. -rw-r--r-- */
  permissions?: string;
  mtime?: string;
}

/** One line of `restic diff --json`: + added, - removed, M content modified, T type changed, U metadata updated. */
export interface DiffChange {
  path: string;
  modifier: string;
}

interface DiffCounts {
  files: number;
  dirs: number;
  others: number;
  bytes: number;
}

/** The last line of `restic diff --json`. */
export interface DiffStatistics {
  changed_files: number;
  added: DiffCounts;
  removed: DiffCounts;
}

export interface ForgetGroup {
  host: string;
  paths: string[] | null;
  tags: string[] | null;
  keep: Snapshot[] | null;
  remove: Snapshot[] | null;
}

export type JsonMessage = { message_type: string } & Record<string, unknown>;

export function parseJsonLine(line: string): JsonMessage | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    if (
      value &&
      typeof value === "object" &&
      typeof (value as { message_type?: unknown }).message_type === "string"
    ) {
      return value as JsonMessage;
    }
  } catch {
    // restic prints a few plain lines even with --json (e.g. "... does not exist, skipping").
  }
  return undefined;
}
