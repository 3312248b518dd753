// Loads every policy in a directory and checks it; returns all problems at once, never just the first.
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { LifeboatConfig, PolicyDefaults } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { parseDuration } from "../util/duration.js";
import {
  displayPath,
  formatProblem,
  type LocatedDocument,
  loadYamlFile,
  type Problem,
} from "../yaml/located.js";
import { zodProblems } from "../yaml/zod-problems.js";
import { type ClassifiedPath, normalizePath } from "./classify.js";
import { type DatabaseSource, databaseSource } from "./databases.js";
import { normalizeHooks, type PolicyHooks } from "./hooks.js";
import { classificationProblems } from "./rules.js";
import { type DataClass, type PolicyFile, policySchema, type TransportSetting } from "./schema.js";

export interface Policy extends PolicyDefaults {
  host: string;
  /** The policy file, absolute. */
  file: string;
  transport: TransportSpec;
  installRestic: boolean;
  repository: string;
  /** Every classified path, normalized; nested entries refine their parents (the most specific wins). */
  entries: ClassifiedPath[];
  /** Databases dumped by their own tools, one snapshot per database. */
  databases: DatabaseSource[];
  exclude: string[];
  runbook: string | undefined;
  /** Recipients of this host's reports and alerts beside the global ones. */
  notify: string[];
  /** More places `lifeboat audit` scans. */
  auditPaths: string[];
  /** Paths whose production-only files a drill's drift comparison expects (no warning). */
  expectedDrift: string[];
  /** The host's own S3 credentials (names of variables, or a profile), for its restic; undefined: the controller's. */
  credentials: HostCredentials | undefined;
  /** Commands run on the host around each snapshot. */
  hooks: PolicyHooks;
}

export type HostCredentials =
  | { accessKeyIdEnv: string; secretAccessKeyEnv: string; sessionTokenEnv?: string | undefined }
  | { profile: string };

export interface PolicySet {
  policies: Policy[];
  problems: Problem[];
  /** Files read, for reporting. */
  files: string[];
}

const isYaml = (name: string): boolean => name.endsWith(".yaml") || name.endsWith(".yml");

export async function loadPolicies(
  config: LifeboatConfig,
  dir = config.policiesDir,
  cwd = process.cwd(),
): Promise<PolicySet> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isYaml).sort();
  } catch {
    const shown = displayPath(dir, cwd);
    return {
      policies: [],
      files: [],
      problems: [{ file: shown, line: 1, field: "", message: "policies directory not found" }],
    };
  }
  const problems: Problem[] = [];
  const policies: Policy[] = [];
  const firstFileOfHost = new Map<string, { file: string; line: number }>();
  const files = names.map((n) => path.join(dir, n));

  for (const file of files) {
    const shown = displayPath(file, cwd);
    const loaded = await loadYamlFile(file, shown);
    if (!loaded.ok) {
      problems.push(...loaded.problems);
      continue;
    }
    const { doc } = loaded;
    const parsed = policySchema.safeParse(doc.value ?? {});
    // The rules run on whatever parts are well-formed, so one run lists every problem, not only the schema's.
    const view = lenientView(doc.value);
    const own = [
      ...(parsed.success ? [] : zodProblems(doc, parsed.error)),
      ...policyProblems(doc, view, config),
    ];
    problems.push(...own);

    const earlier = view.host === undefined ? undefined : firstFileOfHost.get(view.host);
    if (earlier) {
      problems.push(
        doc.problem(
          ["host"],
          `host "${view.host}" is already defined in ${earlier.file}:${earlier.line}; one policy per host`,
        ),
      );
    } else if (view.host !== undefined) {
      firstFileOfHost.set(view.host, { file: shown, line: doc.lineOf(["host"]) });
    }
    if (parsed.success && own.length === 0 && !earlier) {
      const policy = normalizePolicy(parsed.data, file, config);
      const reach = reachProblem(doc, policy, config) ?? credentialsProblem(doc, policy, config);
      if (reach) problems.push(reach);
      else policies.push(policy);
    }
  }
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return { policies, problems, files };
}

/** A policy's fields as far as they are well-formed; the rest left out. */
export interface LenientPolicy {
  host: string | undefined;
  repository: string | undefined;
  runbook: string | undefined;
  classes: Record<DataClass, Array<string | undefined>>;
}

function lenientView(value: unknown): LenientPolicy {
  const obj = value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const paths = (v: unknown): Array<string | undefined> =>
    Array.isArray(v)
      ? v.map((p) =>
          typeof p === "string" && p.startsWith("/") && !p.split("/").includes("..") ? p : undefined,
        )
      : [];
  return {
    host: str(obj.host),
    repository: str(obj.repository),
    runbook: str(obj.runbook),
    classes: {
      irreplaceable: paths(obj.irreplaceable),
      rebuildable: paths(obj.rebuildable),
      ignored: paths(obj.ignored),
    },
  };
}

function policyProblems(doc: LocatedDocument, p: LenientPolicy, config: LifeboatConfig): Problem[] {
  const problems = classificationProblems(doc, p.classes);
  if (p.repository && !config.targets.has(p.repository)) {
    const known = [...config.targets.keys()].join(", ");
    problems.push(
      doc.problem(
        ["repository"],
        `unknown storage target "${p.repository}"; lifeboat.yaml defines: ${known}`,
      ),
    );
  }
  if (p.runbook) {
    const runbook = path.resolve(config.baseDir, p.runbook);
    if (!existsSync(runbook)) {
      problems.push(
        doc.problem(
          ["runbook"],
          `runbook file ${runbook} does not exist; create it or remove the runbook key`,
        ),
      );
    }
  }
  return problems;
}

/** A host's own S3 credentials only make sense where restic on the host uses them: an S3 target, remotely. */
function credentialsProblem(
  doc: LocatedDocument,
  policy: Policy,
  config: LifeboatConfig,
): Problem | undefined {
  if (!policy.credentials) return undefined;
  const target = config.targets.get(policy.repository);
  if (target?.type === "s3" && policy.transport.kind !== "local") return undefined;
  return doc.problem(
    ["credentials"],
    target?.type !== "s3"
      ? `these are S3 credentials, but target "${policy.repository}" is ${target?.type ?? "unknown"}`
      : "these are for a restic on the host; with transport: local the controller's own are used",
  );
}

/** restic runs on the host: a repository in a directory of this machine is out of its reach. */
function reachProblem(doc: LocatedDocument, policy: Policy, config: LifeboatConfig): Problem | undefined {
  const target = config.targets.get(policy.repository);
  if (policy.transport.kind === "local" || target?.type !== "local") return undefined;
  return doc.problem(
    ["transport"],
    `host ${policy.host} is reached over ${policy.transport.kind}, but its storage target "${policy.repository}" is a directory on this machine, which restic on ${policy.host} cannot reach; use an s3 target (see README: Storage targets)`,
  );
}

/** How ssh reaches a machine: user@address (or an alias), port, key, known_hosts. */
export interface SshLogin {
  destination: string;
  port?: number | undefined;
  identityFile?: string | undefined;
  knownHostsFile?: string | undefined;
}

/** The transport setting with its short forms spelled out. */
export type TransportSpec =
  | { kind: "local" }
  | ({ kind: "ssh" } & SshLogin)
  | { kind: "container"; name: string; engine?: "podman" | "docker" | undefined; user?: string | undefined };

function transportSpec(t: TransportSetting): TransportSpec {
  if (t === "local") return { kind: "local" };
  if ("ssh" in t)
    return typeof t.ssh === "string" ? { kind: "ssh", destination: t.ssh } : { kind: "ssh", ...t.ssh };
  return typeof t.container === "string"
    ? { kind: "container", name: t.container }
    : { kind: "container", ...t.container };
}

function normalizePolicy(p: PolicyFile, file: string, config: LifeboatConfig): Policy {
  const classes: DataClass[] = ["irreplaceable", "rebuildable", "ignored"];
  const entries = classes.flatMap((dataClass) =>
    p[dataClass].flatMap((raw) => (typeof raw === "string" ? [{ path: normalizePath(raw), dataClass }] : [])),
  );
  const databases = p.irreplaceable.flatMap((raw) => (typeof raw === "string" ? [] : [databaseSource(raw)]));
  const rpo = p.rpo ?? config.defaults.rpo;
  return {
    host: p.host,
    file,
    transport: transportSpec(p.transport),
    installRestic: p.installRestic,
    repository: p.repository ?? config.defaults.repository,
    schedule: p.schedule ?? config.defaults.schedule,
    rpo,
    rpoSeconds: parseDuration(rpo) ?? config.defaults.rpoSeconds,
    retention: p.retention ?? config.defaults.retention,
    guard: p.guard ?? config.defaults.guard,
    checkSlices: p.checkSlices ?? config.defaults.checkSlices,
    snapshotTimeout: p.snapshotTimeout ?? config.defaults.snapshotTimeout,
    snapshotTimeoutSeconds: p.snapshotTimeout
      ? (parseDuration(p.snapshotTimeout) ?? config.defaults.snapshotTimeoutSeconds)
      : config.defaults.snapshotTimeoutSeconds,
    entries,
    databases,
    exclude: p.exclude,
    runbook: p.runbook ? path.resolve(config.baseDir, p.runbook) : undefined,
    notify: p.notify,
    auditPaths: p.audit.paths.map(normalizePath),
    expectedDrift: p.drift.expected.map(normalizePath),
    credentials: p.credentials,
    hooks: normalizeHooks(p.hooks),
  };
}

// Policies read once per loaded config: a command (or the daemon, between reloads) asks for them many times,
// and with hundreds of hosts every run re-reading every file was most of a scheduled run's cost.
const loadedSets = new WeakMap<LifeboatConfig, Promise<PolicySet>>();

/** The policies, or a typed error listing every problem: invalid policies stop every command, not only validate. */
export async function requireValidPolicies(config: LifeboatConfig): Promise<Policy[]> {
  let loading = loadedSets.get(config);
  if (!loading) {
    loading = loadPolicies(config);
    loadedSets.set(config, loading);
    loading.catch(() => loadedSets.delete(config));
  }
  const set = await loading;
  if (set.problems.length > 0) {
    throw new LifeboatError(
      "POLICY_INVALID",
      `policies are invalid:\n${set.problems.map(formatProblem).join("\n")}`,
      {
        hint: "Fix each line above; `lifeboat validate` lists them again.",
        details: { problems: set.problems },
      },
    );
  }
  return set.policies;
}

export async function policyForHost(config: LifeboatConfig, host: string): Promise<Policy> {
  const policies = await requireValidPolicies(config);
  const policy = policies.find((p) => p.host === host);
  if (!policy) {
    const known = policies.map((p) => p.host).join(", ") || "none";
    throw new LifeboatError("HOST_UNKNOWN", `no policy for host "${host}" in ${config.policiesDir}`, {
      hint: `Hosts with a policy: ${known}. Add policies/${host}.yaml to classify its data.`,
    });
  }
  return policy;
}
