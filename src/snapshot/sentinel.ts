// The sentinel: a small file written into each irreplaceable directory just before a snapshot. A recovery or a
// drill reads it back from the restored host: the data itself then says how old it is (RPO) and which run saved it.
import type { Logger } from "pino";
import { z } from "zod";
import type { Transport } from "../transport/types.js";

export const SENTINEL_FILE = ".lifeboat-sentinel";

const sentinelSchema = z.object({ host: z.string(), runId: z.string(), writtenAt: z.string() });
export type Sentinel = z.infer<typeof sentinelSchema>;

// The JSON comes on stdin. The directory may belong to whoever runs the app (a web upload dir), and the snapshot
// runs as root: what is there is never followed or opened unless it is a plain file of its own. Anything else
// (a link to /etc/x, a FIFO, a hard link) is refused and reported; the old file is unlinked (which follows
// nothing) and the new one created exclusively (noclobber: O_EXCL, which follows no link either).
const WRITE =
  's=$(cat); for d; do [ -d "$d" ] && [ ! -L "$d" ] || continue; f="$d/' +
  SENTINEL_FILE +
  '"; if [ -L "$f" ] || { [ -e "$f" ] && { [ ! -f "$f" ] || [ "$(stat -c %h -- "$f")" != 1 ]; }; }; then ' +
  "printf 'refused\\t%s\\n' \"$d\"; continue; fi; " +
  'rm -f -- "$f" && (set -C; printf \'%s\\n\' "$s" > "$f") && printf \'ok\\t%s\\n\' "$d"; done';

/**
 * Writes the sentinel into every irreplaceable directory; returns where it went. A directory the login user
 * cannot write to gets none, and neither does one whose sentinel is a link or not a regular file: that is
 * logged, and the snapshot goes on (its RPO then comes from the snapshot time).
 */
export async function writeSentinels(
  transport: Transport,
  roots: string[],
  run: { host: string; runId: string },
  logger?: Logger,
): Promise<string[]> {
  if (roots.length === 0) return [];
  const sentinel: Sentinel = { ...run, writtenAt: new Date().toISOString() };
  const r = await transport.run(["sh", "-c", WRITE, "lifeboat", ...roots], {
    stdin: JSON.stringify(sentinel),
    timeoutMs: 60_000,
  });
  const lines = r.stdout.split("\n").map((l) => l.split("\t"));
  const written = lines.filter(([state]) => state === "ok").map(([, dir]) => dir ?? "");
  const refused = lines.filter(([state]) => state === "refused").map(([, dir]) => dir ?? "");
  if (refused.length)
    logger?.warn(
      { host: run.host, directories: refused },
      `${SENTINEL_FILE} there is a link, a hard link or not a regular file: not touched, and no sentinel written; remove it`,
    );
  if (r.exitCode !== 0 || written.length + refused.length === 0)
    logger?.warn(
      { host: run.host, error: r.stderr.trim() },
      "could not write the sentinel; RPO will come from the snapshot's time",
    );
  return written;
}

/** The sentinel of each directory on the host that has a readable one (by directory). */
export async function readSentinels(transport: Transport, roots: string[]): Promise<Map<string, Sentinel>> {
  const found = new Map<string, Sentinel>();
  if (roots.length === 0) return found;
  // One line per directory: its path, a tab, its sentinel (empty when it has none); never follows a link.
  const r = await transport.run(
    [
      "sh",
      "-c",
      `for d; do f="$d/${SENTINEL_FILE}"; s=""; [ -f "$f" ] && [ ! -L "$f" ] && s=$(head -c 4096 "$f" | tr -d '\\n\\t'); printf '%s\\t%s\\n' "$d" "$s"; done`,
      "lifeboat",
      ...roots,
    ],
    { timeoutMs: 60_000 },
  );
  for (const line of r.stdout.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab < 0) continue;
    const dir = line.slice(0, tab);
    try {
      const parsed = sentinelSchema.safeParse(JSON.parse(line.slice(tab + 1)));
      if (parsed.success && roots.includes(dir)) found.set(dir, parsed.data);
    } catch {
      // Not a sentinel of ours (or none): that directory's age comes from its snapshot.
    }
  }
  return found;
}
