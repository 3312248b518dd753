// Which controller this is: one id per $LIFEBOAT_HOME, so that what it makes (machines, leases) can be told apart
// from what another controller sharing the same bucket made.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/** This controller's id, made once under its state directory. */
export async function controllerIdIn(stateDir: string): Promise<string> {
  const file = path.join(stateDir, "controller-id");
  try {
    const id = (await readFile(file, "utf8")).trim();
    if (/^[a-f0-9]{16}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const id = randomBytes(8).toString("hex");
  try {
    await writeFile(file, `${id}\n`, { flag: "wx", mode: 0o600 });
    return id;
  } catch (err) {
    // Another process made it first: theirs is the id.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return (await readFile(file, "utf8")).trim();
    throw err;
  }
}
