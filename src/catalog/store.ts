// Where run records live: beside the repositories on the storage target, so a fresh controller with the
// same config and credentials sees the same history. Objects are written once under unique keys.
import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LifeboatConfig, TargetConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { CATALOG_DIR, type CatalogStore, type KeyPage } from "./types.js";

export { CATALOG_DIR, type CatalogStore, type KeyPage } from "./types.js";

/** Where the spool keeps records that differ from the catalog's own under the same key. */
const CONFLICTS = "conflicts";

/** A record under a key that already holds a different one: keys are unique, so one of the two is not ours. */
export class RecordConflict extends Error {
  constructor(readonly key: string) {
    super(`the catalog already holds a different record ${key}`);
    this.name = "RecordConflict";
  }
}

class LocalCatalogStore implements CatalogStore {
  constructor(private readonly root: string) {}

  async put(key: string, body: string): Promise<void> {
    const file = path.join(this.root, key);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // Whole or not at all: a full disk mid-write leaves a temporary file, never a short record under the key.
    // link() puts it in place only if the key is free; the same record there already is the same write, done.
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, body, { flag: "wx", mode: 0o600 });
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if ((await readFile(file, "utf8")) !== body) throw new RecordConflict(key);
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  async get(key: string): Promise<string | undefined> {
    if (key.endsWith(".tmp")) return undefined;
    try {
      return await readFile(path.join(this.root, key), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await unlink(path.join(this.root, key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }

  async list(prefix: string): Promise<string[]> {
    const dir = path.join(this.root, prefix);
    try {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile() && !e.name.endsWith(".tmp"))
        .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)))
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
  }

  // A directory listing costs the same for one key or all: the page is cut from it.
  async listPage(prefix: string, page: { limit: number; after?: string | undefined }): Promise<KeyPage> {
    const keys = await this.list(prefix);
    const from = page.after === undefined ? 0 : keys.findIndex((k) => k > (page.after ?? ""));
    const rest = from < 0 ? [] : keys.slice(from);
    return { keys: rest.slice(0, page.limit), more: rest.length > page.limit };
  }
}

/** Loads the S3 store (and the AWS SDK) on first use. */
class LazyCatalogStore implements CatalogStore {
  private store: Promise<CatalogStore> | undefined;
  constructor(private readonly load: () => Promise<CatalogStore>) {}
  private resolve(): Promise<CatalogStore> {
    this.store ??= this.load();
    return this.store;
  }
  async put(key: string, body: string): Promise<void> {
    return (await this.resolve()).put(key, body);
  }
  async get(key: string): Promise<string | undefined> {
    return (await this.resolve()).get(key);
  }
  async list(prefix: string): Promise<string[]> {
    return (await this.resolve()).list(prefix);
  }
  async listPage(prefix: string, page: { limit: number; after?: string | undefined }): Promise<KeyPage> {
    return (await this.resolve()).listPage(prefix, page);
  }
  async remove(key: string): Promise<void> {
    return (await this.resolve()).remove(key);
  }
}

/**
 * A record that cannot be written (the storage is down at the end of a run) is kept in a local spool and
 * written before anything else at the next use of the catalog, so the catalog still gets every record.
 */
class SpoolingCatalogStore implements CatalogStore {
  constructor(
    private readonly inner: CatalogStore,
    private readonly spoolDir: string,
  ) {}

  private async flush(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.spoolDir)).sort();
    } catch {
      return;
    }
    for (const name of names.filter((n) => !n.endsWith(".tmp") && n !== CONFLICTS)) {
      const file = path.join(this.spoolDir, name);
      const body = await readFile(file, "utf8");
      try {
        // Idempotent: a record written before a crash kept it from being unlinked is simply there already.
        await this.inner.put(decodeURIComponent(name), body);
      } catch (err) {
        if (!(err instanceof RecordConflict)) throw err;
        // Not the same record: kept aside for a person, never retried, never lost.
        await mkdir(path.join(this.spoolDir, CONFLICTS), { recursive: true, mode: 0o700 });
        await rename(file, path.join(this.spoolDir, CONFLICTS, name));
        process.stderr.write(
          `warning: the spooled record ${err.key} differs from the one in the catalog; kept in ${path.join(this.spoolDir, CONFLICTS)}\n`,
        );
        continue;
      }
      await unlink(file);
    }
  }

  async put(key: string, body: string): Promise<void> {
    try {
      await this.flush();
      await this.inner.put(key, body);
    } catch (err) {
      // Kept for the next use, whole (temporary file and rename): a full disk here must not leave half a record.
      await mkdir(this.spoolDir, { recursive: true, mode: 0o700 });
      const file = path.join(this.spoolDir, encodeURIComponent(key));
      const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
      await writeFile(tmp, body, { mode: 0o600 })
        .then(() => rename(tmp, file))
        .catch(async (spoolErr: unknown) => {
          await unlink(tmp).catch(() => {});
          throw spoolErr;
        });
      throw err;
    }
  }

  async get(key: string): Promise<string | undefined> {
    await this.flush().catch(() => {});
    return this.inner.get(key);
  }

  async list(prefix: string): Promise<string[]> {
    await this.flush().catch(() => {});
    return this.inner.list(prefix);
  }

  async listPage(prefix: string, page: { limit: number; after?: string | undefined }): Promise<KeyPage> {
    await this.flush().catch(() => {});
    return this.inner.listPage(prefix, page);
  }

  // Never spooled: a removal that did not happen must fail where it was asked for.
  async remove(key: string): Promise<void> {
    return this.inner.remove(key);
  }
}

export function openCatalog(target: TargetConfig, spoolDir?: string): CatalogStore {
  const store =
    target.type !== "s3"
      ? new LocalCatalogStore(path.join(target.path, CATALOG_DIR))
      : new LazyCatalogStore(async () => new (await import("./s3-store.js")).S3CatalogStore(target));
  return spoolDir ? new SpoolingCatalogStore(store, spoolDir) : store;
}

// One store per config and target, so what a store learns (that a host's history is indexed) is learnt once.
const stores = new WeakMap<LifeboatConfig, Map<string, CatalogStore>>();

/** The catalog of a target named in the config, with its spool under the state directory. */
export function catalogFor(config: LifeboatConfig, targetName: string): CatalogStore {
  const target = config.targets.get(targetName);
  if (!target)
    throw new LifeboatError(
      "CONFIG_INVALID",
      `storage target "${targetName}" is not defined in lifeboat.yaml`,
    );
  let byTarget = stores.get(config);
  if (!byTarget) {
    byTarget = new Map();
    stores.set(config, byTarget);
  }
  let store = byTarget.get(targetName);
  if (!store) {
    store = openCatalog(target, path.join(config.stateDir, "spool", targetName));
    byTarget.set(targetName, store);
  }
  return store;
}
