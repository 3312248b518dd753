// A progress bar on a terminal, driven by restic's JSON status messages; nothing when output is not a TTY.
import type { BackupStatus, RestoreStatus } from "../restic/messages.js";
import { formatBytes } from "../util/bytes.js";

export interface Progress {
  /** Undefined when nothing is displayed, so restic is not asked for status it would compute for nobody. */
  onStatus: ((status: BackupStatus | RestoreStatus) => void) | undefined;
  stop(): void;
}

const silent: Progress = { onStatus: undefined, stop() {} };

export async function createProgress(label: string, enabled: boolean): Promise<Progress> {
  if (!enabled || !process.stderr.isTTY) return silent;
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {files} files | {bytes} | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(100, 0, { files: 0, bytes: "0 B" });
  return {
    onStatus(status) {
      const files =
        "files_done" in status ? status.files_done : "files_restored" in status ? status.files_restored : 0;
      const bytes =
        "bytes_done" in status ? status.bytes_done : "bytes_restored" in status ? status.bytes_restored : 0;
      bar.update(Math.round((status.percent_done ?? 0) * 100), {
        files: files ?? 0,
        bytes: formatBytes(bytes ?? 0),
      });
    },
    stop() {
      bar.stop();
    },
  };
}
