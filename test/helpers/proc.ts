// What `ps` would show: every process's argv on this machine, sampled while something runs.
import { readdir, readFile } from "node:fs/promises";

/** Every argv seen while `during` runs, sampled every few milliseconds (test hosts all run here). */
export async function argvsDuring(during: Promise<unknown>): Promise<string[]> {
  const seen = new Set<string>();
  let done = false;
  void during.finally(() => {
    done = true;
  });
  while (!done) {
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      // A process may end while we look: then there is nothing to read.
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmd) seen.add(cmd.split("\0").join(" ").trim());
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await during.catch(() => {});
  return [...seen];
}

/** The environment of every process whose argv matches `match`, sampled while `during` runs. */
export async function environsDuring(
  during: Promise<unknown>,
  match: RegExp,
): Promise<Array<Record<string, string>>> {
  const seen = new Map<string, Record<string, string>>();
  let done = false;
  void during.finally(() => {
    done = true;
  });
  while (!done) {
    for (const pid of await readdir("/proc")) {
      if (!/^\d+$/.test(pid) || seen.has(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (!match.test(cmd.split("\0").join(" "))) continue;
      const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
      if (!environ) continue;
      const vars: Record<string, string> = {};
      for (const entry of environ.split("\0").filter(Boolean)) {
        const eq = entry.indexOf("=");
        vars[entry.slice(0, eq)] = entry.slice(eq + 1);
      }
      seen.set(pid, vars);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await during.catch(() => {});
  return [...seen.values()];
}
