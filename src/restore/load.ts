// Loading restored dumps into a freshly provisioned database server on a host: roles first, then each database.
import { LifeboatError } from "../errors.js";
import {
  type DatabaseSource,
  dumpEnv,
  loadAccountsCommand,
  loadCommands,
  loadRolesCommand,
} from "../policy/databases.js";
import type { Transport } from "../transport/types.js";

export interface LoadOptions {
  transport: Transport;
  source: DatabaseSource;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/**
 * The fresh server is reached as its administrator (the host's socket; `runAs`, e.g. postgres, for peer
 * authentication; root for MariaDB), not as the dump's user: that user belongs to the old server, and for
 * MySQL it does not exist on a fresh one.
 */
export function administratorOf(source: DatabaseSource): DatabaseSource {
  return { ...source, user: undefined, passwordEnv: undefined, passwordFile: undefined };
}

async function runAll(options: LoadOptions, steps: string[][], what: string): Promise<void> {
  const { env } = dumpEnv(options.source, options.env ?? process.env);
  for (const argv of steps) {
    const r = await options.transport.run(argv, {
      env,
      timeoutMs: options.timeoutMs ?? 6 * 3600_000,
      signal: options.signal,
    });
    if (r.exitCode !== 0) {
      const said = r.stderr.trim().split("\n").slice(-3).join(" / ") || `exit ${r.exitCode}`;
      throw new LifeboatError("LOAD_FAILED", `loading ${what} on ${options.transport.host} failed: ${said}`, {
        hint: "The server must be fresh (no database of that name yet) and reachable with the policy's connection settings.",
      });
    }
  }
}

/** Loads a PostgreSQL server's roles (before its databases, whose grants name them). */
export function loadRoles(options: LoadOptions, file: string): Promise<void> {
  const admin = { ...options, source: administratorOf(options.source) };
  return runAll(admin, [loadRolesCommand(admin.source, file)], `the ${options.source.engine} roles`);
}

/** Loads a MariaDB server's accounts (before its databases, so the app's user can log in afterwards). */
export function loadAccounts(options: LoadOptions, file: string): Promise<void> {
  const admin = { ...options, source: administratorOf(options.source) };
  return runAll(admin, [loadAccountsCommand(admin.source, file)], `the ${options.source.engine} accounts`);
}

/** Creates the database (PostgreSQL) and loads its dump; `file` is on the host. */
export function loadDatabase(options: LoadOptions, database: string, file: string): Promise<void> {
  const admin = { ...options, source: administratorOf(options.source) };
  return runAll(
    admin,
    loadCommands(admin.source, database, file),
    `${options.source.engine} database ${database}`,
  );
}
