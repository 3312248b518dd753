// Loads a host's runbook, checks it against its policy, and spells out the short forms.
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { DatabaseSource } from "../policy/databases.js";
import type { Policy, SshLogin } from "../policy/load.js";
import { parseDuration } from "../util/duration.js";
import {
  displayPath,
  type FieldPath,
  formatProblem,
  type LocatedDocument,
  loadYamlFile,
  type Problem,
} from "../yaml/located.js";
import { zodProblems } from "../yaml/zod-problems.js";
import { checkTarget, productionNames, productionReachingOptions, staticCheckLeak } from "./isolation.js";
import {
  type CheckSetting,
  type ProviderSetting,
  type RunbookFile,
  runbookSchema,
  type StepSetting,
} from "./schema.js";

export type ProviderSpec =
  | {
      kind: "container";
      image: string;
      engine?: "podman" | "docker" | undefined;
      name?: string | undefined;
      network?: string | undefined;
      ports: string[];
      command: string[];
      runOptions: string[];
      recoveryRunOptions: string[];
    }
  | ({ kind: "ssh" } & SshLogin)
  | {
      kind: "command";
      create: string;
      destroy: string;
      bake?: string | undefined;
      user: string;
      port?: number | undefined;
      identityFile?: string | undefined;
      knownHostsFile?: string | undefined;
      timeoutSeconds: number;
      /** The names of the variables passed through to create and destroy. */
      env: string[];
    }
  | {
      kind: "vm";
      image: string;
      kernel?: string | undefined;
      initrd?: string | undefined;
      cmdline: string;
      cpus: number;
      /** MiB. */
      memory: number;
      /** MiB. */
      disk: number;
      network: string;
      uri: string;
      dir: string;
      acceleration: "auto" | "kvm" | "tcg";
      bootTimeoutSeconds: number;
    };

export interface FileCopy {
  /** Absolute, on the controller. */
  src: string;
  dest: string;
  mode: number | undefined;
  owner: string | undefined;
}

interface StepBase {
  name: string;
  timeoutSeconds: number;
}
export type Step = StepBase &
  (
    | { kind: "restore" }
    | { kind: "apt" | "dnf"; packages: string[] }
    | { kind: "files"; template: boolean; files: FileCopy[] }
    | { kind: "shell"; run: string; user: string | undefined }
    | { kind: "puppet"; manifest: string; modulePath: string | undefined }
    | { kind: "ansible"; playbook: string; vars: Record<string, string> }
  );

interface CheckBase {
  name: string;
  timeoutSeconds: number;
  retries: number;
  intervalSeconds: number;
}
export type Check = CheckBase &
  (
    | { kind: "http"; url: string; status: number; contains: string | undefined }
    | { kind: "tcp"; port: number; host: string | undefined }
    | { kind: "command"; run: string }
    | { kind: "checksum"; path: string; sha256: string }
    | {
        kind: "sql";
        source: DatabaseSource;
        database: string;
        query: string;
        expect: string | undefined;
        atLeast: number | undefined;
      }
  );

export interface Runbook {
  host: string;
  /** The runbook file, absolute. */
  file: string;
  provider: ProviderSpec;
  vars: Record<string, string>;
  steps: Step[];
  checks: Check[];
  rto: string | undefined;
  rtoSeconds: number | undefined;
  /** The daemon drills the host on this cron schedule. */
  drillSchedule: string | undefined;
  /** What a drill or stage machine may reach while steps run (host, port), beside the storage. */
  drillAllow: Array<{ host: string; ports: number[] }>;
  /** Whether drills and stages run network-isolated (the default). */
  drillIsolation: boolean;
}

/** Where a host's runbook is: the policy's `runbook`, else runbooks/<host>.yaml. */
export function runbookFileOf(config: LifeboatConfig, policy: Policy): string {
  return policy.runbook ?? path.join(config.runbooksDir, `${policy.host}.yaml`);
}

/** Variables every template and check may use. */
export const BUILTIN_VARS = ["host", "name", "address", "runId", "mode"] as const;

export type LoadedRunbook = { ok: true; runbook: Runbook } | { ok: false; problems: Problem[] };

/**
 * The repository a runbook may take files from: the git work tree it is in, else its own directory. Sources are
 * compared after links are resolved, so neither `..` nor a symlink in a branch reaches a key outside it.
 */
export function runbookRoot(file: string): string {
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, ".git"))) return dir;
    if (path.dirname(dir) === dir) return path.dirname(path.resolve(file));
  }
}

/** Where `file` really is, when it is inside `root` (both after links); undefined when it is outside. */
function insideRoot(file: string, root: string): string | undefined {
  const real = realpathSync(file);
  const base = realpathSync(root);
  return real === base || real.startsWith(`${base}${path.sep}`) ? real : undefined;
}

export interface RunbookSource {
  /** The repository its files must come from (a ref's unpacked tree); else runbookRoot(file). */
  root?: string | undefined;
  cwd?: string | undefined;
}

export async function loadRunbook(
  config: LifeboatConfig,
  policy: Policy,
  source: RunbookSource = {},
): Promise<LoadedRunbook> {
  const file = runbookFileOf(config, policy);
  const cwd = source.cwd ?? process.cwd();
  const shown = displayPath(file, cwd);
  if (!existsSync(file)) {
    return {
      ok: false,
      problems: [
        {
          file: shown,
          line: 1,
          field: "",
          message: `host ${policy.host} has no runbook; write one (see runbooks/web1.yaml) or set runbook: in ${displayPath(policy.file, cwd)}`,
        },
      ],
    };
  }
  const root = source.root ?? runbookRoot(file);
  if (!insideRoot(file, root))
    return {
      ok: false,
      problems: [
        { file: shown, line: 1, field: "", message: `is a link to ${realpathSync(file)}, outside ${root}` },
      ],
    };
  const loaded = await loadYamlFile(file, shown);
  if (!loaded.ok) return loaded;
  const parsed = runbookSchema.safeParse(loaded.doc.value ?? {});
  if (!parsed.success) return { ok: false, problems: zodProblems(loaded.doc, parsed.error) };
  const problems = runbookProblems(loaded.doc, parsed.data, policy, path.dirname(file), root).sort(
    (a, b) => a.line - b.line,
  );
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, runbook: normalize(parsed.data, file) };
}

/** The runbook, or a typed error listing every problem in it. */
export async function requireRunbook(
  config: LifeboatConfig,
  policy: Policy,
  source: RunbookSource = {},
): Promise<Runbook> {
  const loaded = await loadRunbook(config, policy, source);
  if (loaded.ok) return loaded.runbook;
  throw new LifeboatError(
    "RUNBOOK_INVALID",
    `the runbook of ${policy.host} is invalid:\n${loaded.problems.map(formatProblem).join("\n")}`,
    {
      hint: "Fix each line above; `lifeboat validate` lists them again.",
      details: { problems: loaded.problems },
    },
  );
}

const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Names used as {{name}} in `text`. */
export function variablesIn(text: string): string[] {
  return [...text.matchAll(VARIABLE)].map((m) => m[1] ?? "");
}

/** `text` with every {{name}} replaced; throws naming the first unknown variable. */
export function renderTemplate(text: string, vars: Record<string, string>, where: string): string {
  return text.replace(VARIABLE, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      throw new LifeboatError("RUNBOOK_INVALID", `${where} uses {{${name}}}, which is not defined`, {
        hint: `Define it under vars: in the runbook, or use one of ${BUILTIN_VARS.join(", ")}.`,
      });
    }
    return value;
  });
}

function runbookProblems(
  doc: LocatedDocument,
  r: RunbookFile,
  policy: Policy,
  dir: string,
  root: string,
): Problem[] {
  const problems: Problem[] = [];
  if (r.host !== policy.host) {
    problems.push(
      doc.problem(["host"], `is "${r.host}", but the policy ${policy.file} is for "${policy.host}"`),
    );
  }
  const restores = r.steps.flatMap((s, i) => (isRestore(s) ? [i] : []));
  if (restores.length === 0) {
    problems.push(
      doc.problem(
        ["steps"],
        "has no restore step: add `- restore` where the irreplaceable data goes back (after the packages, before the services start)",
      ),
    );
  }
  for (const i of restores.slice(1))
    problems.push(doc.problem(["steps", i], "a second restore step; the data goes back once"));
  const known = new Set<string>([...BUILTIN_VARS, ...Object.keys(r.vars)]);
  // Every file a step sends to the machine: it must exist, and be the repository's own.
  const missing = (at: FieldPath, rel: string) => {
    const file = path.resolve(dir, rel);
    if (!existsSync(file)) problems.push(doc.problem(at, `${file} does not exist`));
    else if (!insideRoot(file, root))
      problems.push(
        doc.problem(
          at,
          `${rel} resolves to ${realpathSync(file)}, outside the repository ${root}: a runbook sends only its own files`,
        ),
      );
  };
  r.steps.forEach((s, i) => {
    if (typeof s === "string") return;
    if ("files" in s || "templates" in s) {
      const key = "files" in s ? "files" : "templates";
      const map = "files" in s ? s.files : s.templates;
      for (const [j, f] of fileList(map).entries())
        missing(Array.isArray(map) ? ["steps", i, key, j, "src"] : ["steps", i, key, f.dest], f.src);
    }
    if ("ansible" in s) missing(["steps", i, "ansible", "playbook"], s.ansible.playbook);
    if ("puppet" in s) {
      missing(["steps", i, "puppet", "manifest"], s.puppet.manifest);
      if (s.puppet.modulePath) missing(["steps", i, "puppet", "modulePath"], s.puppet.modulePath);
    }
  });
  if ("container" in r.provider) {
    for (const { index, option, why } of productionReachingOptions(r.provider.container.runOptions))
      problems.push(
        doc.problem(
          ["provider", "container", "runOptions", index],
          `${option} ${why}: a drill or stage machine must not; move it to recoveryRunOptions (used by \`recover\` only)`,
        ),
      );
  }
  const production = productionNames(
    policy,
    "container" in r.provider ? (r.provider.container.name ?? policy.host) : policy.host,
  );
  r.checks.forEach((c, i) => {
    const target = "http" in c ? checkTarget({ url: c.http.url }) : "tcp" in c ? c.tcp.host : undefined;
    const leak = staticCheckLeak(target, production);
    if (leak)
      problems.push(
        doc.problem(
          ["checks", i, "http" in c ? "http" : "tcp", "http" in c ? "url" : "host"],
          `${leak}: in a drill this check would test that, not the drill machine; name the machine as {{address}}`,
        ),
      );
  });
  r.checks.forEach((c, i) => {
    const text = "http" in c ? c.http.url : "command" in c ? c.command : "";
    for (const name of variablesIn(text))
      if (!known.has(name))
        problems.push(
          doc.problem(["checks", i], `uses {{${name}}}, which is not defined (define it under vars:)`),
        );
  });
  return problems;
}

const isRestore = (s: StepSetting): boolean => s === "restore" || (typeof s === "object" && "restore" in s);

interface FileEntry {
  src: string;
  dest: string;
  mode?: string | undefined;
  owner?: string | undefined;
}

function fileList(map: Record<string, string> | FileEntry[]): FileEntry[] {
  return Array.isArray(map) ? map : Object.entries(map).map(([dest, src]) => ({ dest, src }));
}

const seconds = (d: string): number => parseDuration(d) ?? 0;

function providerSpec(p: ProviderSetting): ProviderSpec {
  if ("container" in p) return { kind: "container", ...p.container };
  if ("ssh" in p) return { kind: "ssh", ...p.ssh };
  if ("vm" in p) {
    const { bootTimeout, ...vm } = p.vm;
    return { kind: "vm", ...vm, bootTimeoutSeconds: seconds(bootTimeout) };
  }
  const { timeout, ...rest } = p.command;
  return { kind: "command", ...rest, timeoutSeconds: seconds(timeout) };
}

function normalizeStep(s: StepSetting, defaultTimeout: number, dir: string): Step {
  if (s === "restore") return { kind: "restore", name: "restore", timeoutSeconds: 6 * 3600 };
  const base = (fallback: string, timeout = defaultTimeout) => ({
    name: s.name ?? fallback,
    timeoutSeconds: s.timeout ? seconds(s.timeout) : timeout,
  });
  if ("restore" in s) return { kind: "restore", ...base("restore", 6 * 3600) };
  if ("apt" in s) return { kind: "apt", packages: s.apt, ...base(`apt ${s.apt.join(" ")}`) };
  if ("dnf" in s) return { kind: "dnf", packages: s.dnf, ...base(`dnf ${s.dnf.join(" ")}`) };
  if ("files" in s || "templates" in s) {
    const template = "templates" in s;
    const files = fileList("files" in s ? s.files : s.templates).map((f) => ({
      src: path.resolve(dir, f.src),
      dest: f.dest,
      mode: f.mode ? Number.parseInt(f.mode, 8) : undefined,
      owner: f.owner,
    }));
    const first = files[0]?.dest ?? "";
    const label = `${template ? "templates" : "files"} ${first}${files.length > 1 ? ` (+${files.length - 1})` : ""}`;
    return { kind: "files", template, files, ...base(label) };
  }
  if ("ansible" in s) {
    return {
      kind: "ansible",
      playbook: path.resolve(dir, s.ansible.playbook),
      vars: s.ansible.vars,
      ...base(`ansible ${s.ansible.playbook}`),
    };
  }
  if ("puppet" in s) {
    return {
      kind: "puppet",
      manifest: path.resolve(dir, s.puppet.manifest),
      modulePath: s.puppet.modulePath ? path.resolve(dir, s.puppet.modulePath) : undefined,
      ...base(`puppet ${s.puppet.manifest}`),
    };
  }
  const run = typeof s.shell === "string" ? s.shell : s.shell.run;
  const user = typeof s.shell === "string" ? undefined : s.shell.user;
  const firstLine = run.trim().split("\n")[0] ?? "";
  return {
    kind: "shell",
    run,
    user,
    ...base(`shell ${firstLine.length > 40 ? `${firstLine.slice(0, 40)}…` : firstLine}`),
  };
}

function normalizeCheck(c: CheckSetting): Check {
  const base = (fallback: string) => ({
    name: c.name ?? fallback,
    timeoutSeconds: seconds(c.timeout),
    retries: c.retries,
    intervalSeconds: seconds(c.interval),
  });
  if ("http" in c)
    return {
      kind: "http",
      url: c.http.url,
      status: c.http.status,
      contains: c.http.contains,
      ...base(`http ${c.http.url}`),
    };
  if ("tcp" in c) return { kind: "tcp", port: c.tcp.port, host: c.tcp.host, ...base(`tcp ${c.tcp.port}`) };
  if ("command" in c) return { kind: "command", run: c.command, ...base(`command ${c.command}`) };
  if ("checksum" in c) return { kind: "checksum", ...c.checksum, ...base(`checksum ${c.checksum.path}`) };
  const [engine, server] = c.sql.postgres
    ? (["postgres", c.sql.postgres] as const)
    : (["mysql", c.sql.mysql] as const);
  const { database, ...connection } = server ?? { database: "" };
  return {
    kind: "sql",
    source: { engine, databases: [database], options: [], ...connection },
    database,
    query: c.sql.query,
    expect: c.sql.expect,
    atLeast: c.sql.atLeast,
    ...base(`sql ${engine} ${database}`),
  };
}

function normalize(r: RunbookFile, file: string): Runbook {
  const dir = path.dirname(file);
  const stepTimeout = seconds(r.stepTimeout);
  return {
    host: r.host,
    file,
    provider: providerSpec(r.provider),
    vars: r.vars,
    steps: r.steps.map((s) => normalizeStep(s, stepTimeout, dir)),
    checks: r.checks.map(normalizeCheck),
    rto: r.rto,
    rtoSeconds: r.rto ? seconds(r.rto) : undefined,
    drillSchedule: r.drill?.schedule,
    drillAllow: (r.drill?.allow ?? []).map((a) => {
      const [host = "", port] = a.split(":");
      return { host, ports: port ? [Number(port)] : [80, 443] };
    }),
    drillIsolation: r.drill?.isolation ?? true,
  };
}
