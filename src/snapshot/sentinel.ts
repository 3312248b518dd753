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

/** The newest sentinel found in the directories on the host, if any. */
export async function readSentinel(transport: Transport, roots: string[]): Promise<Sentinel | undefined> {
  if (roots.length === 0) return undefined;
  const r = await transport.run(
    ["sh", "-c", `for d; do cat "$d/${SENTINEL_FILE}" 2>/dev/null; done; true`, "lifeboat", ...roots],
    { timeoutMs: 60_000 },
  );
  const found = r.stdout
    .split("\n")
    .filter(Boolean)
    .flatMap((line) => {
      try {
        const parsed = sentinelSchema.safeParse(JSON.parse(line));
        return parsed.success ? [parsed.data] : [];
      } catch {
        return [];
      }
    });
  return found.sort((a, b) => b.writtenAt.localeCompare(a.writtenAt))[0];
}
