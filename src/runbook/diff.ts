// What one version of a runbook would do differently from another: steps added, removed or changed, the files
// they copy with a diff of their contents, and changes to the machine, the checks and the RTO.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { onlyEnv } from "../util/child-env.js";
import type { Runbook, Step } from "./load.js";

export interface RunbookDiff {
  from: string;
  to: string;
  steps: Array<{ change: "added" | "removed" | "changed"; name: string; kind: string; details: string[] }>;
  files: Array<{ path: string; change: "added" | "removed" | "changed"; diff: string | undefined }>;
  /** Provider, variables, checks, RTO and drill schedule, one line each. */
  other: string[];
}

/** The repository files a runbook uses, by path relative to it: where each is, and its content hash. */
export type Sources = Map<string, { file: string; hash: string }>;

/** A file (or directory) of the runbook's repository as a step field: path#hash (hashed once per runbook). */
function source(runbook: Runbook, file: string, sources: Sources): string {
  const rel = path.relative(path.dirname(runbook.file), file);
  let known = sources.get(rel);
  if (!known) {
    known = { file, hash: hashOf(file) };
    sources.set(rel, known);
  }
  return `${rel}#${known.hash}`;
}

/** A file's or a directory tree's content, hashed; small runbook trees, read in one synchronous pass. */
function hashOf(file: string): string {
  if (!existsSync(file)) return "missing";
  const h = createHash("sha256");
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) walk(path.join(p, name));
    } else h.update(`${p.slice(file.length)}\0`).update(readFileSync(p));
  };
  walk(file);
  return h.digest("hex").slice(0, 12);
}

/** Everything a step does, with its files as path#hash, as comparable fields. */
export function fields(runbook: Runbook, step: Step, sources: Sources): Record<string, string> {
  const base = { timeout: `${step.timeoutSeconds}s` };
  switch (step.kind) {
    case "restore":
      return base;
    case "apt":
    case "dnf":
      return { ...base, packages: step.packages.join(" ") };
    case "files":
      return {
        ...base,
        ...Object.fromEntries(
          step.files.map((f) => [
            f.dest,
            `${source(runbook, f.src, sources)}${f.mode !== undefined ? ` mode ${f.mode.toString(8)}` : ""}${f.owner ? ` owner ${f.owner}` : ""}`,
          ]),
        ),
      };
    case "shell":
      return { ...base, run: step.run, ...(step.user ? { user: step.user } : {}) };
    case "ansible":
      return { ...base, playbook: source(runbook, step.playbook, sources), vars: JSON.stringify(step.vars) };
    case "puppet":
      return {
        ...base,
        manifest: source(runbook, step.manifest, sources),
        ...(step.modulePath ? { modulePath: source(runbook, step.modulePath, sources) } : {}),
      };
  }
}

/** A field's value for people: without the content hash, and not too long. */
const short = (v: string | undefined): string => {
  if (v === undefined) return "(none)";
  const shown = v.replace(/#[0-9a-f]{12}\b/g, "");
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
};

function fieldChanges(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys
    .filter((k) => a[k] !== b[k])
    .map((k) => {
      const [pa, ha] = (a[k] ?? "").split("#");
      const [pb, hb] = (b[k] ?? "").split("#");
      // Same source path, new content: say so; the file diff below shows how.
      if (a[k] && b[k] && pa === pb && ha !== hb) return `${k}: ${pa} changed`;
      return `${k}: ${short(a[k])} -> ${short(b[k])}`;
    });
}

/**
 * Steps paired by name, in order (a name used twice pairs first with first); then steps of the same kind at the
 * same place, since a step's default name comes from its content (`files /etc/a (+1)` once a file is added).
 */
function pairSteps(a: Step[], b: Step[]): Array<[Step | undefined, Step | undefined]> {
  const match = new Map<number, number>();
  const used = new Set<number>();
  a.forEach((s, i) => {
    const j = b.findIndex((t, k) => !used.has(k) && t.name === s.name && t.kind === s.kind);
    if (j >= 0) {
      match.set(i, j);
      used.add(j);
    }
  });
  a.forEach((s, i) => {
    if (match.has(i) || used.has(i) || b[i]?.kind !== s.kind) return;
    match.set(i, i);
    used.add(i);
  });
  const pairs: Array<[Step | undefined, Step | undefined]> = a.map((s, i) => {
    const j = match.get(i);
    return [s, j === undefined ? undefined : b[j]];
  });
  b.forEach((t, k) => {
    if (!used.has(k)) pairs.push([undefined, t]);
  });
  return pairs;
}

async function unifiedDiff(a: string | undefined, b: string | undefined, label: string): Promise<string> {
  const r = await execa(
    "git",
    ["diff", "--no-index", "--no-color", "--", a ?? "/dev/null", b ?? "/dev/null"],
    { reject: false, stdin: "ignore", ...onlyEnv() },
  );
  // Paths of the unpacked ref and the working tree are noise: name the file as the runbook does.
  return String(r.stdout)
    .split("\n")
    .filter((l) => !l.startsWith("diff --git") && !l.startsWith("index "))
    .map((l) => (l.startsWith("--- ") ? `--- a/${label}` : l.startsWith("+++ ") ? `+++ b/${label}` : l))
    .join("\n");
}

export async function diffRunbooks(
  a: Runbook,
  b: Runbook,
  labels: { from: string; to: string },
): Promise<RunbookDiff> {
  const srcA: Sources = new Map();
  const srcB: Sources = new Map();
  const steps: RunbookDiff["steps"] = [];
  for (const [sa, sb] of pairSteps(a.steps, b.steps)) {
    const fa = sa ? fields(a, sa, srcA) : undefined;
    const fb = sb ? fields(b, sb, srcB) : undefined;
    if (sa && !sb) steps.push({ change: "removed", name: sa.name, kind: sa.kind, details: [] });
    else if (!sa && sb)
      steps.push({ change: "added", name: sb.name, kind: sb.kind, details: fieldChanges({}, fb ?? {}) });
    else if (sa && sb && fa && fb) {
      const details = fieldChanges(fa, fb);
      if (details.length) steps.push({ change: "changed", name: sb.name, kind: sb.kind, details });
    }
  }
  const files: RunbookDiff["files"] = [];
  for (const rel of [...new Set([...srcA.keys(), ...srcB.keys()])].sort()) {
    const a0 = srcA.get(rel);
    const b0 = srcB.get(rel);
    if (a0 && b0 && a0.hash === b0.hash) continue;
    const fa = a0?.file;
    const fb = b0?.file;
    const change = !fa ? "added" : !fb ? "removed" : "changed";
    const isDir = (p: string | undefined) => (p ? existsSync(p) && statSync(p).isDirectory() : false);
    files.push({
      path: rel,
      change,
      diff: isDir(fa) || isDir(fb) ? undefined : await unifiedDiff(fa, fb, rel),
    });
  }
  const other: string[] = [];
  const json = (v: unknown) => JSON.stringify(v);
  if (json(a.provider) !== json(b.provider))
    other.push(`provider: ${short(json(a.provider))} -> ${short(json(b.provider))}`);
  if (json(a.vars) !== json(b.vars)) other.push(`vars: ${short(json(a.vars))} -> ${short(json(b.vars))}`);
  if (a.rto !== b.rto) other.push(`rto: ${a.rto ?? "(none)"} -> ${b.rto ?? "(none)"}`);
  if (a.drillSchedule !== b.drillSchedule)
    other.push(`drill schedule: ${a.drillSchedule ?? "(none)"} -> ${b.drillSchedule ?? "(none)"}`);
  const checkNames = (r: Runbook) => new Map(r.checks.map((c) => [c.name, json(c)]));
  const ca = checkNames(a);
  const cb = checkNames(b);
  for (const [name, v] of cb) {
    if (!ca.has(name)) other.push(`check added: ${name}`);
    else if (ca.get(name) !== v) other.push(`check changed: ${name}`);
  }
  for (const name of ca.keys()) if (!cb.has(name)) other.push(`check removed: ${name}`);
  return { ...labels, steps, files, other };
}
