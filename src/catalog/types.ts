// The catalog's contract, apart from its stores, so that every store (local, S3) depends on it and not on each other.

/** Host names cannot start with "_", so the catalog never collides with a host's repository. */
export const CATALOG_DIR = "_catalog";

export interface CatalogStore {
  /** Writes a new object. Keys are unique (time + run id): nothing is ever overwritten. */
  put(key: string, body: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Every key under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** One page of the keys under `prefix`, sorted: at most `limit`, all after `after` (a full key). */
  listPage(prefix: string, page: { limit: number; after?: string | undefined }): Promise<KeyPage>;
  /** Deletes an object (none there is fine). Only leases are ever removed; records are kept. */
  remove(key: string): Promise<void>;
}

export interface KeyPage {
  keys: string[];
  /** More keys follow the last one. */
  more: boolean;
}
