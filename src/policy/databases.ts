// Databases under `irreplaceable`: which ones, how to reach them, and the dump command that streams each one.
import { z } from "zod";

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");
const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]*$/, "must be an absolute path of letters, digits, . _ - /");
/** A database name Lifeboat hands to a tool: no `=` (a connection string), no leading `-` (an option). */
const DATABASE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_$-]{0,62}$/;
export const isDatabaseName = (name: string): boolean => DATABASE_NAME.test(name);
const databaseName = z.string().regex(DATABASE_NAME, "must be a database name: letters, digits, _ $ -");

/**
 * psql's and pg_dump's --dbname as a connection string naming only the database: whatever the name holds, it is
 * never read as a server, port or password (a bare --dbname with an `=` in it would be).
 */
const pgDatabase = (name: string): string =>
  `--dbname=dbname='${name.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

const serverOptions = {
  /** "all", one database, or a list. */
  database: z.union([z.literal("all"), databaseName, z.array(databaseName).min(1)], {
    error: () => 'must be a database name, a list of them, or "all"',
  }),
  /** A socket directory (absolute path) or a host name; default: the client's (the local socket). */
  host: z
    .string()
    .regex(/^[A-Za-z0-9._/:-]+$/, "must be a socket directory or a host name")
    .optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** The database user. */
  user: z
    .string()
    .regex(/^[A-Za-z0-9_.@-]+$/, "must be a user name")
    .optional(),
  /** The password comes from this environment variable of the controller, handed to the dump in its environment. */
  passwordEnv: envVarName.optional(),
  /** Or from this file on the host (mode 0600): a .pgpass file, or a MySQL option file with a [client] password. */
  passwordFile: absolutePath.optional(),
  /** Run the dump as this user of the host (runuser; the transport must log in as root), e.g. postgres for peer auth. */
  runAs: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, "must be a user name")
    .optional(),
  /** Extra options for pg_dump / mysqldump. */
  options: z.array(z.string().startsWith("-", "dump options start with -")).default([]),
};

const noBoth = (s: { passwordEnv?: string | undefined; passwordFile?: string | undefined }) =>
  !(s.passwordEnv && s.passwordFile);
const both = { message: "set passwordEnv or passwordFile, not both" };

/** A SQL server's options, plus what the engine dumps of the server as a whole. */
const sqlServer = <T extends z.ZodRawShape>(serverWide: T) =>
  // The generic shape hides the password fields from the refinement's type; they are there.
  z
    .strictObject({ ...serverOptions, ...serverWide })
    .refine((s) => noBoth(s as Parameters<typeof noBoth>[0]), both);

export const postgresEntry = z.strictObject({
  /** roles: also dump the roles (pg_dumpall --globals-only; needs a superuser), loaded before the databases. */
  postgres: sqlServer({ roles: z.boolean().default(true) }),
});
export const mysqlEntry = z.strictObject({
  /**
   * accounts: also dump the users, roles and grants (MariaDB's `--system=users`; needs read access to the mysql
   * schema), loaded before the databases: an app that logs in as its own user can after a recovery.
   */
  mysql: sqlServer({ accounts: z.boolean().default(true) }),
});
export const sqliteEntry = z.strictObject({
  sqlite: z.strictObject({
    /** The database file on the host. */
    path: absolutePath,
    runAs: serverOptions.runAs,
  }),
});

/** A Redis server: its dataset as one RDB file, copied consistently by `redis-cli --rdb` (a fork of the server). */
export const redisEntry = z.strictObject({
  redis: z
    .strictObject({
      /** What the dump is called (redis-<name>.rdb); default: the port. */
      name: databaseName.optional(),
      host: z
        .string()
        .regex(/^[A-Za-z0-9._:-]+$/, "must be a host name or address")
        .optional(),
      port: serverOptions.port,
      /** The server's unix socket (absolute path), instead of host and port. */
      socket: absolutePath.optional(),
      /** An ACL user (Redis 6+); default: the default user. */
      user: serverOptions.user,
      passwordEnv: serverOptions.passwordEnv,
      /** A file on the host holding the password (mode 0600). */
      passwordFile: serverOptions.passwordFile,
      runAs: serverOptions.runAs,
      /** Where the server loads its RDB file from at start (its `dir` and `dbfilename`): where a recovery puts it. */
      dir: absolutePath.default("/var/lib/redis"),
      dbfilename: z
        .string()
        .regex(/^[A-Za-z0-9._-]+$/, "must be a file name")
        .default("dump.rdb"),
      /** Who owns the restored file (the user the server runs as). */
      owner: z
        .string()
        .regex(/^[a-z_][a-z0-9_-]*$/, "must be a user name")
        .default("redis"),
    })
    .refine(noBoth, both)
    .refine((r) => !(r.socket && (r.host || r.port)), { message: "set socket, or host and port, not both" }),
});

export type DatabaseEntry =
  | z.infer<typeof postgresEntry>
  | z.infer<typeof mysqlEntry>
  | z.infer<typeof sqliteEntry>
  | z.infer<typeof redisEntry>;

export type DatabaseEngine = "postgres" | "mysql" | "sqlite" | "redis";
export const DATABASE_ENGINES: readonly DatabaseEngine[] = ["postgres", "mysql", "sqlite", "redis"];

/** One database source of a policy, with the short forms spelled out. */
export interface DatabaseSource {
  engine: DatabaseEngine;
  /** Database names, or "all" (listed on the host at snapshot time); for sqlite, the file. */
  databases: "all" | string[];
  host?: string | undefined;
  port?: number | undefined;
  user?: string | undefined;
  passwordEnv?: string | undefined;
  passwordFile?: string | undefined;
  runAs?: string | undefined;
  options: string[];
  /** PostgreSQL: dump the roles too. */
  roles?: boolean | undefined;
  /** MariaDB/MySQL: dump the accounts (users and grants) too. */
  accounts?: boolean | undefined;
  /** Redis: the server's socket and where a recovery puts its RDB file (before the server starts). */
  redis?: { socket?: string | undefined; dir: string; dbfilename: string; owner: string } | undefined;
}

export function databaseSource(entry: DatabaseEntry): DatabaseSource {
  if ("redis" in entry) {
    const { name, socket, dir, dbfilename, owner, ...rest } = entry.redis;
    return {
      engine: "redis",
      ...rest,
      databases: [name ?? String(entry.redis.port ?? 6379)],
      options: [],
      redis: { socket, dir, dbfilename, owner },
    };
  }
  if ("sqlite" in entry) {
    return { engine: "sqlite", databases: [entry.sqlite.path], runAs: entry.sqlite.runAs, options: [] };
  }
  const [engine, s] =
    "postgres" in entry ? (["postgres", entry.postgres] as const) : (["mysql", entry.mysql] as const);
  const { database, ...rest } = s;
  const databases = database === "all" ? "all" : typeof database === "string" ? [database] : database;
  return { engine, ...rest, databases };
}

/**
 * MariaDB's accounts as SQL a fresh server accepts: CREATE USER IF NOT EXISTS (--insert-ignore; the server's own
 * root and mariadb.sys exist already) and their GRANTs.
 */
export function accountsDumpCommand(source: DatabaseSource): string[] {
  return asUser(source, [
    "mysqldump",
    ...optionFile(source),
    ...connection(source),
    "--system=users",
    "--insert-ignore",
    "--no-data",
    "--skip-comments",
  ]);
}

/** Loads a MariaDB accounts dump as the server's administrator, then makes the grants take effect. */
export function loadAccountsCommand(source: DatabaseSource, file: string): string[] {
  return fromFile(file, mysql(source));
}

/** pg_dumpall --globals-only: the roles (and tablespaces) every database's grants refer to. */
export function rolesDumpCommand(source: DatabaseSource): string[] {
  return asUser(source, ["pg_dumpall", "--globals-only", "--no-password", ...connection(source)]);
}

function asUser(source: DatabaseSource, argv: string[]): string[] {
  return source.runAs ? ["runuser", "-u", source.runAs, "--", ...argv] : argv;
}

/** MySQL's option file with the password, when the policy names one: it must come first on the command line. */
function optionFile(source: DatabaseSource): string[] {
  return source.passwordFile ? [`--defaults-extra-file=${source.passwordFile}`] : [];
}

/** A psql command line as the policy's user, without a password prompt. */
function psql(source: DatabaseSource, ...args: string[]): string[] {
  return asUser(source, ["psql", "--no-password", ...connection(source), ...args]);
}

/** A mysql command line with the policy's option file and connection. */
function mysql(source: DatabaseSource, ...args: string[]): string[] {
  return asUser(source, ["mysql", ...optionFile(source), ...connection(source), ...args]);
}

/**
 * A redis-cli command line for the policy's server. A password file on the host is read by a shell into
 * REDISCLI_AUTH (redis-cli has no option for a file, and `-a` would put it in the process list).
 */
function redisCli(source: DatabaseSource, ...args: string[]): string[] {
  const target = source.redis?.socket
    ? ["-s", source.redis.socket]
    : [...(source.host ? ["-h", source.host] : []), ...(source.port ? ["-p", String(source.port)] : [])];
  const argv = [
    "redis-cli",
    ...target,
    ...(source.user ? ["--user", source.user] : []),
    "--no-auth-warning",
    ...args,
  ];
  if (!source.passwordFile) return asUser(source, argv);
  return asUser(source, [
    "sh",
    "-c",
    'REDISCLI_AUTH=$(cat -- "$1") || exit 66; export REDISCLI_AUTH; shift; exec "$@"',
    "redis-auth",
    source.passwordFile,
    ...argv,
  ]);
}

function connection(source: DatabaseSource): string[] {
  const args: string[] = [];
  if (source.host) args.push(`--host=${source.host}`);
  if (source.port) args.push(`--port=${source.port}`);
  if (source.user)
    args.push(source.engine === "postgres" ? `--username=${source.user}` : `--user=${source.user}`);
  return args;
}

/** The variable each client reads its password from: never an argument, where `ps` would show it. */
const PASSWORD_VARIABLE: Record<DatabaseEngine, string> = {
  postgres: "PGPASSWORD",
  mysql: "MYSQL_PWD",
  redis: "REDISCLI_AUTH",
  sqlite: "",
};

/** Variables the dump needs: the password (a secret, from the controller) or where its file is on the host. */
export function dumpEnv(
  source: DatabaseSource,
  env: NodeJS.ProcessEnv,
): { env: Record<string, string>; secrets: string[] } {
  if (source.passwordEnv) {
    const value = env[source.passwordEnv];
    if (!value) return { env: {}, secrets: [] };
    return { env: { [PASSWORD_VARIABLE[source.engine]]: value }, secrets: [value] };
  }
  if (source.passwordFile && source.engine === "postgres")
    return { env: { PGPASSFILE: source.passwordFile }, secrets: [] };
  return { env: {}, secrets: [] };
}

/** The command that writes one database's dump to stdout, consistently, without a file on disk. */
export function dumpCommand(source: DatabaseSource, database: string): string[] {
  switch (source.engine) {
    case "postgres":
      // Plain SQL: loads with psql into any server; one transaction-consistent snapshot (pg_dump's own).
      return asUser(source, [
        "pg_dump",
        "--no-password",
        ...connection(source),
        ...source.options,
        pgDatabase(database),
      ]);
    case "mysql": {
      // --single-transaction is a consistent read of InnoDB tables.
      return asUser(source, [
        "mysqldump",
        ...optionFile(source),
        ...connection(source),
        "--single-transaction",
        "--routines",
        "--events",
        "--triggers",
        ...source.options,
        "--databases",
        "--",
        database,
      ]);
    }
    case "redis":
      // The server forks and streams a point-in-time RDB file, as it does for a new replica: consistent without
      // touching the server's own dump.rdb or waiting for a BGSAVE.
      return redisCli(source, "--rdb", "-");
    case "sqlite":
      // The online backup API into memory, then SQL out. `.backup /dev/stdout` writes nothing and exits 0, and
      // `.restore` of a missing file creates it: so check the file first.
      return asUser(source, [
        "sh",
        "-c",
        'test -f "$1" || { echo "no such database file: $1" >&2; exit 66; }; exec sqlite3 -bail :memory: ".restore \\"$1\\"" .dump',
        "sqlite-dump",
        database,
      ]);
  }
}

/** Runs argv with the file on the host as its stdin: the shell (as the login user) opens it, so a dump restored
 * with root-only permissions can still be loaded by a `runAs` user. */
function fromFile(file: string, argv: string[]): string[] {
  return ["sh", "-c", 'f=$1; shift; exec "$@" < "$f"', "load", file, ...argv];
}

/**
 * Puts a Redis RDB file where the server loads it at start. The server must not be running: it would not read the
 * file, and would overwrite it with its own (empty) dataset when it next saves.
 */
function redisPlaceCommand(source: DatabaseSource, file: string): string[] {
  const r = source.redis ?? { dir: "/var/lib/redis", dbfilename: "dump.rdb", owner: "redis" };
  const ping = redisCli({ ...source, runAs: undefined }, "ping");
  return [
    "sh",
    "-c",
    [
      "f=$1 dir=$2 name=$3 owner=$4; shift 4",
      // Any answer (PONG, or NOAUTH from a server with a password) means a server is running there.
      'answer=; if command -v redis-cli >/dev/null 2>&1; then answer=$("$@" 2>&1); fi',
      'if [ -n "$answer" ] && ! printf %s "$answer" | grep -q "Could not connect"; then',
      '  echo "Redis already runs on this machine (it answered: $answer); the runbook must start it after the restore step" >&2; exit 75',
      "fi",
      'id -u "$owner" >/dev/null 2>&1 || { echo "user $owner does not exist on this machine: install Redis in a step before restore (or set owner in the policy)" >&2; exit 67; }',
      'mkdir -p "$dir" && install -m 0660 -o "$owner" -g "$(id -gn "$owner")" "$f" "$dir/.$name.lifeboat" && mv -f "$dir/.$name.lifeboat" "$dir/$name"',
    ].join("\n"),
    "redis-place",
    file,
    r.dir,
    r.dbfilename,
    r.owner,
    ...ping,
  ];
}

/** The commands that load one dump (a file on the host) into a fresh server, in order. */
export function loadCommands(source: DatabaseSource, database: string, file: string): string[][] {
  switch (source.engine) {
    case "redis":
      return [redisPlaceCommand(source, file)];
    case "postgres":
      return [
        asUser(source, ["createdb", "--no-password", ...connection(source), "--", database]),
        fromFile(file, psql(source, "-v", "ON_ERROR_STOP=1", "-q", pgDatabase(database))),
      ];
    case "mysql":
      // The dump creates its database itself (--databases).
      return [fromFile(file, mysql(source))];
    case "sqlite":
      return [
        asUser(source, [
          "sh",
          "-c",
          'test ! -e "$1" || { echo "$1 already exists; a dump loads only into a new database file" >&2; exit 73; }; mkdir -p "$(dirname "$1")" && exec sqlite3 -bail "$1" < "$2"',
          "sqlite-load",
          database,
          file,
        ]),
      ];
  }
}

/** Loads a PostgreSQL roles dump; roles that exist already (postgres itself) give notices, not failures. */
export function loadRolesCommand(source: DatabaseSource, file: string): string[] {
  return fromFile(file, psql(source, "-q", "--dbname=postgres"));
}

/** The command that lists every database of a server ("all"), one per line; for Redis, its name if it answers. */
export function listCommand(source: DatabaseSource): string[] {
  if (source.engine === "redis") return redisCli(source, "ping");
  if (source.engine === "postgres") {
    return psql(
      source,
      "--dbname=postgres",
      "-Atc",
      "select datname from pg_database where not datistemplate and datallowconn order by 1",
    );
  }
  return mysql(source, "-N", "-e", "show databases");
}

/** Server-internal schemas that `all` leaves out (they are recreated by the server itself). */
export const SYSTEM_DATABASES = new Set(["information_schema", "performance_schema", "sys", "mysql"]);

/** The command that runs one query and prints its rows, one per line, columns tab-separated, no header. */
export function queryCommand(source: DatabaseSource, database: string, query: string): string[] {
  if (source.engine === "postgres")
    return psql(source, "-v", "ON_ERROR_STOP=1", "-AtF", "\t", pgDatabase(database), "-c", query);
  return mysql(source, "-N", "-B", "-e", query, "--", database);
}

// Where Debian's servers keep their data: covered by the dumps, so never read as files.
const SERVER_DATA_DIRS: Record<DatabaseEngine, string | undefined> = {
  postgres: "/var/lib/postgresql",
  mysql: "/var/lib/mysql",
  sqlite: undefined,
  redis: undefined,
};

/** The files and directories that hold the dumped databases themselves: a SQLite file, a server's data directory. */
export function databaseFiles(sources: readonly DatabaseSource[]): string[] {
  return sources.flatMap((d) => {
    if (d.engine === "sqlite" && Array.isArray(d.databases)) return d.databases;
    if (d.engine === "redis" && d.redis) return [d.redis.dir];
    return SERVER_DATA_DIRS[d.engine] ?? [];
  });
}
