// The runbook's configuration steps, run on the fresh machine through its transport.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { isLifeboatError } from "../errors.js";
import type { StepResult } from "../report/schema.js";
import { renderTemplate, type Step } from "../runbook/load.js";
import type { Transport } from "../transport/types.js";
import { onlyEnv } from "../util/child-env.js";

export type { StepResult } from "../report/schema.js";

export interface StepContext {
  transport: Transport;
  /** The machine's name and how Ansible reaches it (inventory variables). */
  machine: { name: string; ansibleVars: Record<string, string> };
  /** {{name}} values for templates; also given to shell steps as LIFEBOAT_<NAME> variables. */
  vars: Record<string, string>;
  signal?: AbortSignal | undefined;
}

const TAIL_LINES = 20;

function outputTail(stdout: string, stderr: string): string {
  const lines = `${stdout.trimEnd()}\n${stderr.trimEnd()}`.split("\n").filter((l) => l.trim() !== "");
  return lines.slice(-TAIL_LINES).join("\n");
}

// Installs only what is missing: a step re-run on a machine that has its packages costs no `apt-get update`.
const APT =
  'missing=""; for p; do dpkg-query -W -f=\'${Status}\' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done; ' +
  '[ -z "$missing" ] && { echo "already installed: $*"; exit 0; }; export DEBIAN_FRONTEND=noninteractive; ' +
  "apt-get update -q && apt-get install -y -q --no-install-recommends $missing";
const DNF =
  'rpm -q "$@" >/dev/null 2>&1 && { echo "already installed: $*"; exit 0; }; dnf install -y -q "$@"';

/** Environment variables for shell steps: LIFEBOAT_ADDRESS, LIFEBOAT_HOST, ... and the runbook's vars. */
function shellEnv(vars: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    const name = `LIFEBOAT_${k.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()}`;
    env[name] = v;
  }
  return env;
}

/** Runs one step that is not `restore`; never throws for the step's own failure, only for an interruption. */
export async function runStep(
  step: Exclude<Step, { kind: "restore" }>,
  ctx: StepContext,
): Promise<StepResult> {
  const started = Date.now();
  const done = (r: Omit<StepResult, "name" | "kind" | "seconds">): StepResult => ({
    name: step.name,
    kind: step.kind,
    seconds: (Date.now() - started) / 1000,
    ...r,
  });
  const timeoutMs = step.timeoutSeconds * 1000;
  const sh = async (argv: string[], stdin?: Buffer | string, env?: Record<string, string>) => {
    const r = await ctx.transport.run(argv, { timeoutMs, signal: ctx.signal, stdin, env });
    return r.exitCode === 0
      ? done({ status: "passed" })
      : done({
          status: "failed",
          exitCode: r.exitCode,
          error: `exited with ${r.exitCode}`,
          outputTail: outputTail(r.stdout, r.stderr),
        });
  };
  try {
    switch (step.kind) {
      case "apt":
        return await sh(["sh", "-c", APT, "apt", ...step.packages]);
      case "dnf":
        return await sh(["sh", "-c", DNF, "dnf", ...step.packages]);
      case "shell": {
        const script = step.user
          ? ["runuser", "-u", step.user, "--", "sh", "-c", step.run]
          : ["sh", "-c", step.run];
        return await sh(script, undefined, shellEnv(ctx.vars));
      }
      case "files": {
        for (const f of step.files) {
          const raw = await readFile(f.src);
          const data = step.template ? renderTemplate(raw.toString("utf8"), ctx.vars, f.src) : raw;
          // The directory first, then the bytes on stdin, then the mode and owner: one round trip.
          const r = await ctx.transport.run(
            [
              "sh",
              "-c",
              'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1" && { [ -z "$3" ] || chown "$3" "$1"; }',
              "files",
              f.dest,
              (f.mode ?? 0o644).toString(8),
              f.owner ?? "",
            ],
            { stdin: data, timeoutMs, signal: ctx.signal },
          );
          if (r.exitCode !== 0) {
            return done({
              status: "failed",
              exitCode: r.exitCode,
              error: `cannot write ${f.dest}`,
              outputTail: outputTail(r.stdout, r.stderr),
            });
          }
        }
        return done({ status: "passed" });
      }
      case "ansible":
        return done(await runPlaybook(step, ctx, timeoutMs));
      case "puppet":
        return done(await runPuppet(step, ctx, timeoutMs));
    }
  } catch (err) {
    if (isLifeboatError(err) && err.code === "INTERRUPTED") throw err;
    const timedOut = isLifeboatError(err) && err.code === "COMMAND_TIMEOUT";
    return done({
      status: "failed",
      error: timedOut
        ? `did not finish within ${step.timeoutSeconds}s and was stopped`
        : (err as Error).message,
    });
  }
}

/**
 * ansible-playbook on this machine against the new one: an inventory of that one host (reached by the
 * provider's connection: podman/docker exec or ssh), the host's variables plus the step's as extra vars.
 */
async function runPlaybook(
  step: Extract<Step, { kind: "ansible" }>,
  ctx: StepContext,
  timeoutMs: number,
): Promise<Omit<StepResult, "name" | "kind" | "seconds">> {
  const dir = await mkdtemp(path.join(tmpdir(), "lifeboat-ansible-"));
  try {
    const inventory = path.join(dir, "inventory.json");
    const extra = path.join(dir, "vars.json");
    await writeFile(
      inventory,
      JSON.stringify({ all: { hosts: { [ctx.machine.name]: ctx.machine.ansibleVars } } }),
    );
    await writeFile(extra, JSON.stringify({ lifeboat: ctx.vars, ...step.vars }));
    const r = await execa("ansible-playbook", ["-i", inventory, "-e", `@${extra}`, step.playbook], {
      cwd: path.dirname(step.playbook),
      // Ansible runs on the controller: its own settings (ANSIBLE_*) and the basics, none of Lifeboat's secrets.
      ...onlyEnv(
        { ANSIBLE_NOCOLOR: "1", ANSIBLE_RETRY_FILES_ENABLED: "0", ANSIBLE_FORCE_COLOR: "0" },
        { prefixes: ["ANSIBLE_"] },
      ),
      reject: false,
      timeout: timeoutMs,
      cancelSignal: ctx.signal,
      stdin: "ignore",
    });
    if (r.exitCode === 0) return { status: "passed" };
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    const stdout = String(r.stdout ?? "");
    const stderr = String(r.stderr ?? "");
    if ((r as { code?: string }).code === "ENOENT") {
      return {
        status: "failed",
        error: "ansible-playbook is not installed on this machine (Debian: apt-get install ansible)",
      };
    }
    if (r.timedOut)
      return { status: "failed", error: `did not finish within ${step.timeoutSeconds}s and was stopped` };
    // Ansible's own summary: the failed task and the recap line (ok=.. changed=.. failed=..).
    const fatal = stdout.split("\n").find((l) => /^(fatal|failed):/.test(l.trim()));
    const recap = stdout.split("\n").find((l) => l.includes(" : ok=") && l.includes("failed="));
    return {
      status: "failed",
      exitCode: r.exitCode,
      error:
        [fatal?.trim().slice(0, 300), recap?.replace(/\s+/g, " ").trim()].filter(Boolean).join(" | ") ||
        `exited with ${r.exitCode}`,
      outputTail: outputTail(stdout, stderr),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Puppet from the distribution's packages when the machine has none; exit 127 when it cannot be installed.
const PUPPET_INSTALL =
  "command -v puppet >/dev/null 2>&1 && exit 0; " +
  "if command -v apt-get >/dev/null 2>&1; then export DEBIAN_FRONTEND=noninteractive; " +
  "apt-get update -q && apt-get install -y -q --no-install-recommends puppet; " +
  "elif command -v dnf >/dev/null 2>&1; then dnf install -y -q puppet; " +
  'else echo "puppet is not installed, and there is no apt-get or dnf to install it" >&2; exit 127; fi';

// The manifest and modules go into a private directory, removed after the run whatever happens.
const PUPPET_APPLY =
  "d=$(mktemp -d /var/tmp/lifeboat-puppet.XXXXXXXX) || exit 90; trap 'rm -rf \"$d\"' EXIT; " +
  'cat > "$d/site.tar" && tar -xf "$d/site.tar" -C "$d" || exit 91; ' +
  'if [ -d "$d/modules" ]; then set -- --modulepath "$d/modules"; else set --; fi; ' +
  'puppet apply --detailed-exitcodes --color=false --summarize "$@" "$d/manifest.pp"';

/**
 * `puppet apply` on the new machine (installed from its packages when absent): the manifest and modules of the
 * repository are copied there for the run; the host's variables are facts (`lifeboat_host`, `lifeboat_address`...).
 * --detailed-exitcodes: 0 nothing to change, 2 changes made, 4 or 6 failures, 1 the catalog did not compile.
 */
async function runPuppet(
  step: Extract<Step, { kind: "puppet" }>,
  ctx: StepContext,
  timeoutMs: number,
): Promise<Omit<StepResult, "name" | "kind" | "seconds">> {
  const install = await ctx.transport.run(["sh", "-c", PUPPET_INSTALL], { timeoutMs, signal: ctx.signal });
  if (install.exitCode !== 0) {
    return {
      status: "failed",
      exitCode: install.exitCode,
      error: `puppet could not be installed: ${install.stderr.trim().split("\n").at(-1) ?? `exit ${install.exitCode}`}`,
      outputTail: outputTail(install.stdout, install.stderr),
    };
  }
  // One tarball: manifest.pp, and modules/ when the step names a module directory.
  const dir = await mkdtemp(path.join(tmpdir(), "lifeboat-puppet-"));
  let tarball: Buffer;
  try {
    await cp(step.manifest, path.join(dir, "manifest.pp"));
    if (step.modulePath) await cp(step.modulePath, path.join(dir, "modules"), { recursive: true });
    tarball = Buffer.from(
      (
        await execa("tar", ["-C", dir, "-cf", "-", "."], {
          encoding: "buffer",
          stripFinalNewline: false,
          ...onlyEnv(),
        })
      ).stdout,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const facts = Object.fromEntries(Object.entries(ctx.vars).map(([k, v]) => [`FACTER_lifeboat_${k}`, v]));
  const r = await ctx.transport.run(["sh", "-c", PUPPET_APPLY], {
    stdin: tarball,
    env: facts,
    timeoutMs,
    signal: ctx.signal,
  });
  if (r.exitCode === 0 || r.exitCode === 2) return { status: "passed" };
  // Puppet's own words: its first errors, and the resources it changed and failed.
  const lines = `${r.stdout}\n${r.stderr}`.split("\n");
  const errors = lines.filter((l) => /^Error: /.test(l.trim())).slice(0, 2);
  const count = (what: string) =>
    lines.map((l) => new RegExp(`^\\s+${what}: (\\d+)$`).exec(l)?.[1]).find(Boolean);
  const failed = count("Failed");
  const changed = count("Changed");
  const summary = failed !== undefined ? `resources: ${changed ?? 0} changed, ${failed} failed` : "";
  return {
    status: "failed",
    exitCode: r.exitCode,
    error:
      [...errors.map((e) => e.trim().slice(0, 300)), summary].filter(Boolean).join(" | ") ||
      `puppet apply exited with ${r.exitCode}`,
    outputTail: outputTail(r.stdout, r.stderr),
  };
}
