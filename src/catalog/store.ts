// Where run records live: beside the repositories on the storage target, so a fresh controller with the
// same config and credentials sees the same history. Objects are written once under unique keys.
import { mkdir, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LifeboatConfig, TargetConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { CATALOG_DIR, type CatalogStore } from "./types.js";

export { CATALOG_DIR, type CatalogStore } from "./types.js";

class LocalCatalogStore implements CatalogStore {
  constructor(private readonly root: string) {}

  async put(key: string, body: string): Promise<void> {
    const file = path.join(this.root, key);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, body, { flag: "wx", mode: 0o600 });
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return await readFile(path.join(this.root, key), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = path.join(this.root, prefix);
    try {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)))
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
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
    for (const name of names) {
      const file = path.join(this.spoolDir, name);
      const body = await readFile(file, "utf8");
      await this.inner.put(decodeURIComponent(name), body);
      await unlink(file);
    }
  }

  async put(key: string, body: string): Promise<void> {
    try {
      await this.flush();
      await this.inner.put(key, body);
    } catch (err) {
      await mkdir(this.spoolDir, { recursive: true, mode: 0o700 });
      await writeFile(path.join(this.spoolDir, encodeURIComponent(key)), body, { mode: 0o600 });
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
}

export function openCatalog(target: TargetConfig, spoolDir?: string): CatalogStore {
  const store =
    target.type === "local"
      ? new LocalCatalogStore(path.join(target.path, CATALOG_DIR))
      : new LazyCatalogStore(async () => new (await import("./s3-store.js")).S3CatalogStore(target));
  return spoolDir ? new SpoolingCatalogStore(store, spoolDir) : store;
}

/** The catalog of a target named in the config, with its spool under the state directory. */
export function catalogFor(config: LifeboatConfig, targetName: string): CatalogStore {
  const target = config.targets.get(targetName);
  if (!target)
    throw new LifeboatError(
      "CONFIG_INVALID",
      `storage target "${targetName}" is not defined in lifeboat.yaml`,
    );
  return openCatalog(target, path.join(config.stateDir, "spool", targetName));
}
