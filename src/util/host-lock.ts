// One run per host at a time on this controller, across processes (a cron'd CLI beside the daemon, a manual
// snapshot during the nightly one): two first snapshots of a host once ran two `restic init`s and destroyed its
// repository. The lock is a file created exclusively under $LIFEBOAT_HOME/locks; a holder that died (its pid is
// gone) leaves a stale file that the next run takes over.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { z } from "zod";
import { LifeboatError } from "../errors.js";

const holderSchema = z.object({
  pid: z.number(),
  machine: z.string(),
  what: z.string(),
  since: z.string(),
  token: z.string(),
});
type Holder = z.infer<typeof holderSchema>;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

async function readHolder(file: string): Promise<Holder | undefined> {
  try {
    const parsed = holderSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `fn` holding the host's lock; HOST_BUSY (with who holds it) when another live process has it. */
export async function withHostLock<T>(
  stateDir: string,
  host: string,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  const dir = path.join(stateDir, "locks");
  const file = path.join(dir, `${encodeURIComponent(host)}.lock`);
  const me: Holder = {
    pid: process.pid,
    machine: hostname(),
    what,
    since: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, JSON.stringify(me), { flag: "wx", mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = await readHolder(file);
    // A live holder on this machine keeps it; a dead one (or an unreadable, half-written file) is stale.
    if (holder && holder.machine === me.machine && alive(holder.pid) && holder.pid !== process.pid)
      throw new LifeboatError(
        "HOST_BUSY",
        `${host} is busy: ${holder.what} (pid ${holder.pid}) since ${holder.since}`,
        {
          hint: `Wait for that run to finish; if no such process runs, remove ${file} and run again.`,
        },
      );
    if (holder && holder.machine !== me.machine)
      throw new LifeboatError(
        "HOST_BUSY",
        `${host} is locked by ${holder.what} (pid ${holder.pid}) on ${holder.machine} since ${holder.since}`,
        { hint: `Two controllers share ${stateDir}; if that machine is gone, remove ${file}.` },
      );
    if (attempt > 2)
      throw new LifeboatError("HOST_BUSY", `${host}'s lock ${file} keeps changing hands`, {
        hint: "Another process is starting runs of this host right now; run again in a moment.",
      });
    // Taken over only if it still is the stale one we read (another process may have done so already).
    if ((await readHolder(file))?.token === holder?.token) await unlink(file).catch(() => {});
  }
  try {
    return await fn();
  } finally {
    // Only our own: a lock taken over as stale by someone else is theirs now.
    if ((await readHolder(file))?.token === me.token) await unlink(file).catch(() => {});
  }
}
