// The one place that builds and reads what a snapshot is labelled with: restic tags (lifeboat, host:, policy:,
// run:, dump:) and a dump's file name. Whatever writes a tag and whatever reads it back agree by construction.
import { type DatabaseEngine, isDatabaseName } from "../policy/databases.js";

/** Every snapshot Lifeboat makes carries it; restic commands of Lifeboat's own select by it. */
export const LIFEBOAT_TAG = "lifeboat";

export const hostTag = (host: string): string => `host:${host}`;
/** The digest of what the policy selects (roots and patterns): a changed selection starts a new series. */
export const policyTag = (digest: string): string => `policy:${digest}`;
/** Every snapshot of one snapshot run (the files and each dump) carries the run's id. */
export const runTag = (runId: string): string => `run:${runId}`;
/** The tag that finds a database's snapshots: dump:postgres-app for postgres-app.sql, dump:redis-6379 for its RDB. */
export const dumpTag = (file: string): string => `dump:${file.replace(/\.(sql|rdb)$/, "")}`;

/** The file of a PostgreSQL server's roles: a dot, which no database name has, keeps it apart from theirs. */
export const POSTGRES_ROLES_FILE = "postgres.roles.sql";
/** The file of a MariaDB server's accounts (users and grants), apart from its databases' the same way. */
export const MYSQL_ACCOUNTS_FILE = "mysql.accounts.sql";
/** Dumps of a server as a whole, loaded before its databases: what their grants name. */
export const isServerWideDump = (file: string): boolean =>
  file === POSTGRES_ROLES_FILE || file === MYSQL_ACCOUNTS_FILE;

/** A dump's file name in its snapshot: one stream per database (`--stdin-filename` takes no directory). */
export function dumpName(engine: DatabaseEngine, database: string): string {
  if (engine === "sqlite") return `sqlite-${database.replace(/^\//, "").replace(/\//g, "_")}.sql`;
  // Redis's is its own binary format, not SQL.
  if (engine === "redis") return `redis-${database}.rdb`;
  return `${engine}-${database}.sql`;
}

interface Tagged {
  tags?: string[] | undefined;
}

const tagValue = (s: Tagged, prefix: string): string | undefined =>
  s.tags?.find((t) => t.startsWith(prefix))?.slice(prefix.length);

/** The snapshot run a snapshot belongs to (its id), if it was tagged with one. */
export const runOf = (s: Tagged): string | undefined => tagValue(s, "run:");
/** The dump name of a database snapshot (postgres-app), undefined for a snapshot of files. */
export const dumpOf = (s: Tagged): string | undefined => tagValue(s, "dump:");
/** The dump's file name (postgres-app.sql), undefined for a snapshot of files. */
export const dumpFileOf = (s: Tagged): string | undefined => {
  const dump = dumpOf(s);
  if (dump === undefined) return undefined;
  return `${dump}${dump.startsWith("redis-") ? ".rdb" : ".sql"}`;
};
export const isDump = (s: Tagged): boolean => dumpOf(s) !== undefined;

/**
 * What a dump's file name says: postgres-app.sql → postgres, app; the roles file → postgres, roles. SQLite's names
 * are made from the file's path, which is not reversible: `sqlitePaths` (the policy's) are matched against them.
 */
export function parseDumpFile(
  file: string,
  sqlitePaths: readonly string[],
): { engine: DatabaseEngine; database: string } | undefined {
  if (file === POSTGRES_ROLES_FILE) return { engine: "postgres", database: "roles" };
  if (file === MYSQL_ACCOUNTS_FILE) return { engine: "mysql", database: "accounts" };
  const m = /^(postgres|mysql|sqlite)-(.+)\.sql$|^(redis)-(.+)\.rdb$/.exec(file);
  if (!m) return undefined;
  const engine = (m[1] ?? m[3]) as DatabaseEngine;
  const name = m[2] ?? m[4] ?? "";
  // A tag is written by whoever can snapshot (a host): its name is checked before any tool sees it.
  if (engine !== "sqlite") return isDatabaseName(name) ? { engine, database: name } : undefined;
  const path = sqlitePaths.find((p) => dumpName("sqlite", p) === file);
  return path === undefined ? undefined : { engine, database: path };
}
