// Which machines are this controller's to remove. A name read from the catalog (an expired stage) is only a
// claim: anyone who can write to the bucket can name production there. A container is removed only when it
// carries this controller's labels for that run; a command provider's machine only when this controller's own
// ledger says it made it.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { LifeboatError } from "../errors.js";
import { controllerIdIn } from "../util/controller-id.js";

/** What a provider keeps on the controller: its id and the ledger live under the state directory. */
export interface ProviderContext {
  stateDir: string;
}

/** This controller's id: containers and networks it makes carry it as `lifeboat.controller`. */
export function controllerId(ctx: ProviderContext): Promise<string> {
  return controllerIdIn(ctx.stateDir);
}

export function notOurs(machine: string, why: string, hint: string): LifeboatError {
  return new LifeboatError("MACHINE_NOT_OURS", `refusing to remove ${machine}: ${why}`, { hint });
}

const entrySchema = z.object({
  name: z.string(),
  runId: z.string(),
  mode: z.enum(["recovery", "drill", "stage"]),
  address: z.string(),
  createdAt: z.string(),
  removedAt: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof entrySchema>;

/** The command provider's record of the machines it made, one file per machine name. */
export class MachineLedger {
  private readonly dir: string;
  constructor(ctx: ProviderContext) {
    this.dir = path.join(ctx.stateDir, "machines");
  }

  private file(name: string): string {
    return path.join(this.dir, `${encodeURIComponent(name)}.json`);
  }

  async made(entry: Omit<LedgerEntry, "createdAt" | "removedAt">): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const full: LedgerEntry = { ...entry, createdAt: new Date().toISOString() };
    await writeFile(this.file(entry.name), JSON.stringify(full), { mode: 0o600 });
  }

  async get(name: string): Promise<LedgerEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(name), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    const parsed = entrySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * The ledger's entry for a machine someone asks to remove, when this controller made it for that run and mode;
   * undefined when it was removed already. Anything else is refused (MACHINE_NOT_OURS): a name from the catalog is
   * only a claim.
   */
  async claim(
    machine: { name: string; mode: LedgerEntry["mode"]; runId?: string | undefined },
    what: string,
    hint: string,
  ): Promise<LedgerEntry | undefined> {
    const made = await this.get(machine.name);
    if (!made) throw notOurs(what, "this controller did not make it", hint);
    if ((machine.runId && made.runId !== machine.runId) || made.mode !== machine.mode)
      throw notOurs(what, `it was made by ${made.mode} run ${made.runId}`, hint);
    return made.removedAt ? undefined : made;
  }

  /** Kept, marked removed: a second removal of the same machine is then known to be harmless. */
  async removed(name: string): Promise<void> {
    const entry = await this.get(name);
    if (!entry || entry.removedAt) return;
    await writeFile(this.file(name), JSON.stringify({ ...entry, removedAt: new Date().toISOString() }), {
      mode: 0o600,
    });
  }
}
