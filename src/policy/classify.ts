// Which class a path falls in, and the restic selection that reads only the irreplaceable data.
import type { DataClass } from "./schema.js";

export interface ClassifiedPath {
  path: string;
  dataClass: DataClass;
}

export function normalizePath(p: string): string {
  const collapsed = p.replace(/\/+/g, "/").replace(/\/\.(?=\/|$)/g, "");
  return collapsed.length > 1 ? collapsed.replace(/\/$/, "") : "/";
}

export function isInside(child: string, parent: string): boolean {
  return parent === "/" ? child !== "/" : child.startsWith(`${parent}/`);
}

/** The most specific classified path that contains `p` (or is `p`): the most specific entry wins. */
export function nearestEntry(entries: readonly ClassifiedPath[], p: string): ClassifiedPath | undefined {
  let best: ClassifiedPath | undefined;
  for (const e of entries) {
    if ((e.path === p || isInside(p, e.path)) && (!best || e.path.length > best.path.length)) best = e;
  }
  return best;
}

export function classOf(entries: readonly ClassifiedPath[], p: string): DataClass | undefined {
  return nearestEntry(entries, normalizePath(p))?.dataClass;
}

export interface BackupSelection {
  /** Paths given to `restic backup`: irreplaceable paths with no irreplaceable ancestor. */
  roots: string[];
  /**
   * restic --exclude patterns, in order (a later pattern overrides an earlier one): each rebuildable or
   * ignored path inside a root is excluded; where it holds irreplaceable paths, only those are let back in.
   * Classified paths hold no glob characters (a schema rule), so they are their own patterns.
   */
  excludes: string[];
}

function parentsBetween(outer: string, inner: string): string[] {
  // The directories strictly inside `outer` leading down to `inner`, then `inner` itself.
  const rest = inner.slice(outer === "/" ? 1 : outer.length + 1).split("/");
  const out: string[] = [];
  let current = outer === "/" ? "" : outer;
  for (const seg of rest) {
    current = `${current}/${seg}`;
    out.push(current);
  }
  return out;
}

export function backupSelection(entries: readonly ClassifiedPath[]): BackupSelection {
  const irreplaceable = entries.filter((e) => e.dataClass === "irreplaceable").map((e) => e.path);
  const roots = irreplaceable.filter((p) => !irreplaceable.some((q) => isInside(p, q))).sort();
  const excludes: string[] = [];
  const others = entries
    .filter((e) => e.dataClass !== "irreplaceable" && roots.some((r) => isInside(e.path, r)))
    .map((e) => e.path)
    .sort();
  for (const p of others) {
    // Irreplaceable paths whose nearest classified ancestor is p: they refine p and must stay in.
    const refinements = irreplaceable.filter(
      (d) => isInside(d, p) && nearestEntry(entries, parentOf(d))?.path === p,
    );
    if (refinements.length === 0) {
      excludes.push(p);
      continue;
    }
    excludes.push(`${p}/*`);
    const reopened = new Set<string>();
    for (const d of refinements) {
      for (const dir of parentsBetween(p, d)) {
        if (reopened.has(dir)) continue;
        reopened.add(dir);
        excludes.push(`!${dir}`);
        if (dir !== d) excludes.push(`${dir}/*`);
      }
    }
  }
  return { roots, excludes };
}

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}
