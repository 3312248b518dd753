// The databases of a policy: one snapshot per database, each a dump streamed by restic from the host itself.
import type { Logger } from "pino";
import { isLifeboatError, LifeboatError } from "../errors.js";
import {
  accountsDumpCommand,
  type DatabaseSource,
  dumpCommand,
  dumpEnv,
  isDatabaseName,
  listCommand,
  rolesDumpCommand,
  SYSTEM_DATABASES,
} from "../policy/databases.js";
import type { ResticRepository } from "../restic/engine.js";
import type { Transport } from "../transport/types.js";
import {
  dumpName,
  dumpTag,
  hostTag,
  isServerWideDump,
  LIFEBOAT_TAG,
  MYSQL_ACCOUNTS_FILE,
  POSTGRES_ROLES_FILE,
  runTag,
} from "./tags.js";

export interface DumpOutcome {
  engine: DatabaseSource["engine"];
  database: string;
  /** The dump's file name in its snapshot. */
  file: string;
  snapshotId: string;
  shortId: string;
  bytes: number;
  bytesAdded: number;
}

export interface DumpsResult {
  dumps: DumpOutcome[];
  /** Databases whose dump failed: each saved nothing; the others are unaffected. */
  failures: Array<{ engine: string; database: string; error: LifeboatError }>;
}

/** "all" made concrete: the server's databases, listed on the host. */
async function databasesOf(
  transport: Transport,
  source: DatabaseSource,
  env: Record<string, string>,
): Promise<string[]> {
  if (source.databases !== "all") return source.databases;
  const r = await transport.run(listCommand(source), { env, timeoutMs: 120_000 });
  if (r.exitCode !== 0) {
    throw new LifeboatError(
      "DUMP_FAILED",
      `cannot list the ${source.engine} databases on ${transport.host}: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.exitCode}`}`,
      {
        hint: "Check the connection settings (host, port, user, password) in the policy; the listing runs with them.",
      },
    );
  }
  return r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((name) => name && !SYSTEM_DATABASES.has(name));
}

/** A name the server listed that Lifeboat will not hand to a tool (it could read as a connection or an option). */
const unsafeName = (engine: string, name: string): LifeboatError =>
  new LifeboatError(
    "DUMP_FAILED",
    `the ${engine} server lists a database named ${JSON.stringify(name)}, which is not a plain name (letters, digits, _ $ -); it was not dumped`,
    {
      hint: "Rename the database on the server (or drop it, if nobody made it on purpose); the other databases were dumped.",
    },
  );

/** A roles or accounts dump failed: most often the dump's user may not read them. Say how to go on without. */
function serverWideFailure(source: DatabaseSource, err: LifeboatError): LifeboatError {
  const [what, setting, needs] =
    source.engine === "postgres"
      ? ["roles", "roles: false", "a superuser (runAs: postgres)"]
      : ["accounts", "accounts: false", "SELECT on the mysql schema"];
  return new LifeboatError(err.code, `the ${source.engine} ${what} dump failed: ${err.message}`, {
    hint: `Dumping the ${what} needs ${needs}. Grant it to the dump's user, or set ${setting} in the policy (a recovery then has to recreate them by hand). The databases were dumped on their own.`,
    cause: err,
  });
}

export async function snapshotDatabases(options: {
  repo: ResticRepository;
  transport: Transport;
  host: string;
  sources: DatabaseSource[];
  env?: NodeJS.ProcessEnv;
  /** The snapshot run's id, tagged on every dump. */
  runId?: string;
  logger?: Logger | undefined;
}): Promise<DumpsResult> {
  const result: DumpsResult = { dumps: [], failures: [] };
  for (const source of options.sources) {
    const { env, secrets } = dumpEnv(source, options.env ?? process.env);
    const fail = (database: string, error: unknown) => {
      const e = isLifeboatError(error) ? error : new LifeboatError("INTERNAL", String(error));
      options.logger?.error({ engine: source.engine, database, code: e.code }, e.message);
      result.failures.push({ engine: source.engine, database, error: e });
    };
    if (source.passwordEnv && !options.env?.[source.passwordEnv] && !process.env[source.passwordEnv]) {
      fail(
        source.databases === "all" ? "all" : source.databases.join(","),
        new LifeboatError(
          "CREDENTIALS_MISSING",
          `the ${source.engine} password variable ${source.passwordEnv} is not set`,
          {
            hint: `Export ${source.passwordEnv} for Lifeboat (it reaches the dump in its environment only), or use passwordFile on the host.`,
          },
        ),
      );
      continue;
    }
    let names: string[];
    try {
      names = await databasesOf(options.transport, source, env);
    } catch (err) {
      fail("all", err);
      continue;
    }
    // Names from a server are checked like names in a policy: someone who can create a database chose them.
    if (source.engine !== "sqlite" && source.engine !== "redis") {
      for (const name of names.filter((n) => !isDatabaseName(n))) fail(name, unsafeName(source.engine, name));
      names = names.filter(isDatabaseName);
    }
    const jobs = names.map((database) => ({
      database,
      file: dumpName(source.engine, database),
      command: dumpCommand(source, database),
    }));
    // The roles and accounts first: a restore loads them before the databases whose grants name them.
    if (source.engine === "postgres" && source.roles !== false)
      jobs.unshift({ database: "roles", file: POSTGRES_ROLES_FILE, command: rolesDumpCommand(source) });
    if (source.engine === "mysql" && source.accounts !== false)
      jobs.unshift({ database: "accounts", file: MYSQL_ACCOUNTS_FILE, command: accountsDumpCommand(source) });
    for (const { database, file, command } of jobs) {
      try {
        const r = await options.repo.backupFromCommand({
          command,
          filename: file,
          host: options.host,
          tags: [
            LIFEBOAT_TAG,
            hostTag(options.host),
            dumpTag(file),
            ...(options.runId ? [runTag(options.runId)] : []),
          ],
          env,
          secrets,
        });
        result.dumps.push({
          engine: source.engine,
          database,
          file,
          snapshotId: r.snapshotId,
          shortId: r.snapshotId.slice(0, 8),
          bytes: r.summary.total_bytes_processed,
          bytesAdded: r.summary.data_added,
        });
        options.logger?.info(
          { engine: source.engine, database, snapshot: r.snapshotId.slice(0, 8) },
          "dump saved",
        );
      } catch (err) {
        // An interruption or a time limit stops the whole run, not only this database.
        if (
          isLifeboatError(err) &&
          ["INTERRUPTED", "COMMAND_TIMEOUT", "STORAGE_UNREACHABLE"].includes(err.code)
        )
          throw err;
        fail(database, isServerWideDump(file) && isLifeboatError(err) ? serverWideFailure(source, err) : err);
      }
    }
  }
  return result;
}
