// The sentinel: a small file written into each irreplaceable directory just before a snapshot. A recovery or a
// drill reads it back from the restored host: the data itself then says how old it is (RPO) and which run saved it.
import type { Logger } from "pino";
import { z } from "zod";
import type { Transport } from "../transport/types.js";

export const SENTINEL_FILE = ".lifeboat-sentinel";

const sentinelSchema = z.object({ host: z.string(), runId: z.string(), writtenAt: z.string() });
export type Sentinel = z.infer<typeof sentinelSchema>;

// The JSON comes on stdin; prints each directory it was written into.
const WRITE =
  's=$(cat); for d; do if [ -d "$d" ] && [ ! -L "$d" ]; then ' +
  `printf '%s\\n' "$s" > "$d/${SENTINEL_FILE}" && echo "$d"; fi; done`;

/**
 * Writes the sentinel into every irreplaceable directory; returns where it went. A directory the login user
 * cannot write to gets none: that is logged, and the snapshot goes on (its RPO then comes from the snapshot time).
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
  const written = r.stdout.split("\n").filter(Boolean);
  if (r.exitCode !== 0 || written.length === 0)
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
