// Finds and loads lifeboat.yaml, or falls back to the embedded default: one local target.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { LifeboatError } from "../errors.js";
import type { Guard, Retention } from "../schema/common.js";
import { parseDuration } from "../util/duration.js";
import { displayPath, formatProblem, loadYamlFile, type Problem } from "../yaml/located.js";
import { zodProblems } from "../yaml/zod-problems.js";
import { type ConfigFile, configSchema } from "./schema.js";

export type PasswordSource = { kind: "file"; path: string } | { kind: "env"; variable: string };

export interface LocalTargetConfig {
  name: string;
  type: "local";
  /** The target every new snapshot is copied to (the offsite copy). */
  replicateTo: string | undefined;
  /** Directory with one repository per host. */
  path: string;
  password: PasswordSource;
}

export interface S3TargetConfig {
  name: string;
  type: "s3";
  /** The target every new snapshot is copied to (the offsite copy). */
  replicateTo: string | undefined;
  endpoint: string | undefined;
  bucket: string;
  prefix: string;
  region: string;
  pathStyle: boolean;
  caFile: string | undefined;
  outageTimeoutSeconds: number;
  password: PasswordSource;
}

export interface RestTargetConfig {
  name: string;
  type: "rest";
  /** The target every new snapshot is copied to (the offsite copy). */
  replicateTo: string | undefined;
  /** Where hosts reach the vault (no trailing slash). */
  url: string;
  /** The vault's directory here: the controller's own access to every repository. */
  path: string;
  /** What restic verifies the vault's certificate with (undefined: the system's CAs). */
  caFile: string | undefined;
  /** What `vault serve` presents; undefined: the pair it makes under $LIFEBOAT_HOME/vault/<target>. */
  tls: { cert: string; key: string } | undefined;
  outageTimeoutSeconds: number;
  password: PasswordSource;
}

export type TargetConfig = LocalTargetConfig | S3TargetConfig | RestTargetConfig;

/** Where `vault serve` keeps the certificate it makes for a vault without its own. */
export function vaultStateDir(stateDir: string, target: string): string {
  return path.join(stateDir, "vault", target);
}

/** What every policy inherits from lifeboat.yaml unless it says otherwise. */
export interface PolicyDefaults {
  schedule: string;
  rpo: string;
  rpoSeconds: number;
  retention: Retention;
  checkSlices: number;
  snapshotTimeout: string;
  snapshotTimeoutSeconds: number;
  guard: Guard;
}

export interface LifeboatConfig {
  /** lifeboat.yaml, or undefined for the embedded default. */
  file: string | undefined;
  /** Relative paths in the config (policies, runbooks) resolve against this directory. */
  baseDir: string;
  policiesDir: string;
  runbooksDir: string;
  stateDir: string;
  targets: ReadonlyMap<string, TargetConfig>;
  defaults: PolicyDefaults & { repository: string };
  /** Hosts snapshotted at once by `snapshot --all`. */
  concurrency: number;
  /** Where reports and alerts are mailed; undefined: no mail. */
  mail: MailConfig | undefined;
  daemon: DaemonConfig;
}

export interface DaemonConfig {
  listen: { host: string; port: number };
  /** Where the bearer token for /metrics comes from; undefined: no token (loopback only). */
  token: { kind: "file"; path: string } | { kind: "env"; variable: string } | undefined;
  checkSchedule: string;
  digestSchedule: string;
  watchdogSeconds: number;
  retryWindowSeconds: number;
  retryDelaySeconds: number;
  shutdownGraceSeconds: number;
}

export interface MailConfig {
  smtp: {
    host: string;
    port: number;
    security: "starttls" | "tls" | "none";
    userEnv: string | undefined;
    passwordEnv: string | undefined;
    caFile: string | undefined;
    timeoutSeconds: number;
  };
  from: string;
  to: string[];
  reports: "all" | "failures";
  alerts: boolean;
}

export const EMBEDDED_TARGET = "local";

/** Where Lifeboat keeps the embedded target and generated keys: $LIFEBOAT_HOME, else a per-user default. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LIFEBOAT_HOME) return path.resolve(env.LIFEBOAT_HOME);
  if (process.getuid?.() === 0) return "/var/lib/lifeboat";
  const dataHome = env.XDG_DATA_HOME || path.join(homedir(), ".local", "share");
  return path.join(dataHome, "lifeboat");
}

export interface LoadConfigOptions {
  /** --config; else $LIFEBOAT_CONFIG; else ./lifeboat.yaml when present; else the embedded default. */
  file?: string | undefined;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LifeboatConfig> {
  const result = await readConfig(options);
  if (result.problems.length > 0 || !result.config) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `lifeboat.yaml is invalid:\n${result.problems.map(formatProblem).join("\n")}`,
      {
        hint: "Fix each line above and run `lifeboat validate` again.",
        details: { problems: result.problems },
      },
    );
  }
  return result.config;
}

/** Like loadConfig, but returns problems instead of throwing, so `validate` can list them with the policies'. */
export async function readConfig(
  options: LoadConfigOptions = {},
): Promise<{ config: LifeboatConfig | undefined; problems: Problem[] }> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const explicit = options.file ?? env.LIFEBOAT_CONFIG;
  const candidate = explicit ? path.resolve(cwd, explicit) : path.join(cwd, "lifeboat.yaml");
  const stateDir = defaultStateDir(env);

  if (!explicit && !existsSync(candidate)) {
    const raw = configSchema.parse({ targets: { [EMBEDDED_TARGET]: { type: "local" } } });
    return { config: normalize(raw, undefined, cwd, stateDir), problems: [] };
  }

  const display = displayPath(candidate, cwd);
  const loaded = await loadYamlFile(candidate, display);
  if (!loaded.ok) return { config: undefined, problems: loaded.problems };
  const parsed = configSchema.safeParse(loaded.doc.value ?? {});
  if (!parsed.success) {
    return {
      config: undefined,
      problems: zodProblems(loaded.doc, parsed.error).sort((a, b) => a.line - b.line),
    };
  }

  const problems: Problem[] = [];
  const targets = Object.keys(parsed.data.targets);
  const repository = parsed.data.defaults.repository;
  if (repository && !targets.includes(repository)) {
    problems.push(
      loaded.doc.problem(
        ["defaults", "repository"],
        `unknown storage target "${repository}"; targets: ${targets.join(", ")}`,
      ),
    );
  }
  if (!repository && targets.length > 1) {
    problems.push(
      loaded.doc.problem(
        ["defaults"],
        `several storage targets (${targets.join(", ")}): name one in defaults.repository`,
      ),
    );
  }
  for (const [name, t] of Object.entries(parsed.data.targets)) {
    const to = t.replicate?.to;
    if (to && (!targets.includes(to) || to === name))
      problems.push(
        loaded.doc.problem(
          ["targets", name, "replicate", "to"],
          to === name
            ? "a target cannot replicate to itself"
            : `unknown storage target "${to}"; targets: ${targets.join(", ")}`,
        ),
      );
  }
  const config = normalize(parsed.data, candidate, path.dirname(candidate), stateDir);
  return { config: problems.length ? undefined : config, problems };
}

function normalize(
  raw: ConfigFile,
  file: string | undefined,
  baseDir: string,
  stateDir: string,
): LifeboatConfig {
  const targets = new Map<string, TargetConfig>();
  for (const [name, t] of Object.entries(raw.targets)) {
    const password: PasswordSource = t.passwordEnv
      ? { kind: "env", variable: t.passwordEnv }
      : { kind: "file", path: t.passwordFile ?? path.join(stateDir, "keys", `${name}.key`) };
    if (t.type === "rest") {
      const tls = t.tlsCert && t.tlsKey ? { cert: t.tlsCert, key: t.tlsKey } : undefined;
      const made = path.join(vaultStateDir(stateDir, name), "cert.pem");
      targets.set(name, {
        name,
        type: "rest",
        url: t.url,
        path: t.path,
        // A certificate vault serve made is its own CA; one the user gave is signed by a CA they name (or a public one).
        caFile: t.caFile ?? (tls || !t.url.startsWith("https://") ? undefined : made),
        tls,
        outageTimeoutSeconds: parseDuration(t.outageTimeout) ?? 300,
        password,
        replicateTo: t.replicate?.to,
      });
      continue;
    }
    targets.set(
      name,
      t.type === "local"
        ? {
            name,
            type: "local",
            path: t.path ?? path.join(stateDir, "repositories", name),
            password,
            replicateTo: t.replicate?.to,
          }
        : {
            name,
            type: "s3",
            endpoint: t.endpoint,
            bucket: t.bucket,
            prefix: t.prefix,
            region: t.region,
            pathStyle: t.pathStyle,
            caFile: t.caFile,
            outageTimeoutSeconds: parseDuration(t.outageTimeout) ?? 300,
            password,
            replicateTo: t.replicate?.to,
          },
    );
  }
  const [firstTarget] = targets.keys();
  return {
    file,
    baseDir,
    policiesDir: path.resolve(baseDir, raw.policies),
    runbooksDir: path.resolve(baseDir, raw.runbooks),
    stateDir,
    targets,
    defaults: {
      repository: raw.defaults.repository ?? firstTarget ?? EMBEDDED_TARGET,
      schedule: raw.defaults.schedule,
      rpo: raw.defaults.rpo,
      rpoSeconds: parseDuration(raw.defaults.rpo) ?? 86_400,
      retention: raw.defaults.retention,
      guard: raw.defaults.guard,
      checkSlices: raw.defaults.checkSlices,
      snapshotTimeout: raw.defaults.snapshotTimeout,
      snapshotTimeoutSeconds: parseDuration(raw.defaults.snapshotTimeout) ?? 21_600,
    },
    concurrency: raw.concurrency,
    daemon: {
      listen: {
        host: raw.daemon.listen.slice(0, raw.daemon.listen.lastIndexOf(":")).replace(/^\[|\]$/g, ""),
        port: Number(raw.daemon.listen.slice(raw.daemon.listen.lastIndexOf(":") + 1)),
      },
      token: raw.daemon.tokenFile
        ? { kind: "file", path: raw.daemon.tokenFile }
        : raw.daemon.tokenEnv
          ? { kind: "env", variable: raw.daemon.tokenEnv }
          : undefined,
      checkSchedule: raw.daemon.checkSchedule,
      digestSchedule: raw.daemon.digestSchedule,
      watchdogSeconds: parseDuration(raw.daemon.watchdogInterval) ?? 300,
      retryWindowSeconds: parseDuration(raw.daemon.retryWindow) ?? 1800,
      retryDelaySeconds: parseDuration(raw.daemon.retryDelay) ?? 30,
      shutdownGraceSeconds: parseDuration(raw.daemon.shutdownGrace) ?? 60,
    },
    mail: raw.mail && {
      smtp: {
        host: raw.mail.smtp.host,
        port: raw.mail.smtp.port ?? { starttls: 587, tls: 465, none: 25 }[raw.mail.smtp.security],
        security: raw.mail.smtp.security,
        userEnv: raw.mail.smtp.userEnv,
        passwordEnv: raw.mail.smtp.passwordEnv,
        caFile: raw.mail.smtp.caFile ? path.resolve(baseDir, raw.mail.smtp.caFile) : undefined,
        timeoutSeconds: parseDuration(raw.mail.smtp.timeout) ?? 30,
      },
      from: raw.mail.from,
      to: raw.mail.to,
      reports: raw.mail.reports,
      alerts: raw.mail.alerts,
    },
  };
}
