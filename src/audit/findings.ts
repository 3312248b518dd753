// What an audit found, from what was scanned: files in no class and package files changed since installation,
// grouped by directory with a suggested policy entry for each group. Pure: scan.ts brings the facts.
import { isInside } from "../policy/classify.js";

/** One file or symlink on the host, from `find -printf` (no content read). */
export interface ScannedFile {
  path: string;
  /** "f" a regular file, "l" a symlink. */
  type: "f" | "l";
  bytes: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** A symlink's target, as written. */
  target?: string | undefined;
}

export type FindingKind = "unclassified" | "modified-package-file";

export interface AuditGroup {
  /** The directory (or single file) the suggestion is about. */
  path: string;
  kind: FindingKind;
  files: number;
  bytes: number;
  newest: string;
  /** A few of the files, for the reader. */
  examples: string[];
  /** Packages whose files were changed (modified-package-file only). */
  packages: string[];
  suggestion: { dataClass: "irreplaceable" | "rebuildable" | "ignored"; entry: string; why: string };
}

/** Where configuration lives: a runbook should produce it, so it is rebuildable once the runbook does. */
const CONFIG_ROOTS = ["/etc"];

/**
 * The directory to report a finding under: one level below the scanned root it lies in (/var/lib/app for
 * /var/lib/app/x/y.db; /etc/nginx for /etc/nginx/conf.d/extra.conf), or the file itself directly in the root.
 */
export function groupPathOf(file: string, roots: readonly string[]): string {
  const root = roots
    .filter((r) => isInside(file, r))
    .sort((a, b) => b.length - a.length)
    .at(0);
  if (!root) return file;
  const rest = file.slice(root === "/" ? 1 : root.length + 1).split("/");
  return `${root === "/" ? "" : root}/${rest[0]}`;
}

function suggest(group: string, kind: FindingKind): AuditGroup["suggestion"] {
  if (kind === "modified-package-file")
    return {
      dataClass: "rebuildable",
      entry: group,
      why: "a package's file was changed on the host: make the runbook write the change, then classify it rebuildable",
    };
  if (CONFIG_ROOTS.some((r) => group === r || isInside(group, r)))
    return {
      dataClass: "rebuildable",
      entry: group,
      why: "configuration no package installed: put it in the runbook (files/templates), then classify it rebuildable",
    };
  return {
    dataClass: "irreplaceable",
    entry: group,
    why: "data written on the host: irreplaceable if the service keeps state here, ignored if it is a cache",
  };
}

export interface PackageFacts {
  /** Package-owned paths (files, links, directories). */
  owned: ReadonlySet<string>;
  /** The recorded digest (md5 for dpkg; md5 or sha256 for rpm, by length) of package files in scope. */
  digest: ReadonlyMap<string, { sum: string; pkg: string }>;
  /** Every digest any package recorded, anywhere: a file with one of them is a copy a package's script made. */
  allDigests: ReadonlySet<string>;
}

/** Where a symlink points, as an absolute path. */
export function linkTarget(file: string, target: string): string {
  const base = target.startsWith("/") ? target : `${file.slice(0, file.lastIndexOf("/"))}/${target}`;
  const out: string[] = [];
  for (const seg of base.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}

/** Groups the findings: scanned files neither owned by a package nor unchanged package files. */
export function groupFindings(
  files: readonly ScannedFile[],
  packages: PackageFacts,
  /** The digests (md5, and sha256 where a package records one) of the files that were read for comparison. */
  actual: ReadonlyMap<string, readonly string[]>,
  roots: readonly string[],
): AuditGroup[] {
  // Newest as a number while counting: a Date per file was most of the CPU time on 200,000 files.
  const groups = new Map<string, AuditGroup & { newestSeconds: number }>();
  const groupOfDir = new Map<string, string>();
  for (const f of files) {
    let kind: FindingKind;
    let pkg: string | undefined;
    const recorded = packages.digest.get(f.path);
    const sums = actual.get(f.path);
    if (recorded && f.type === "f") {
      if (sums === undefined || sums.includes(recorded.sum)) continue;
      kind = "modified-package-file";
      pkg = recorded.pkg;
    } else if (packages.owned.has(f.path)) {
      continue;
    } else if (f.type === "l" && f.target && packages.owned.has(linkTarget(f.path, f.target))) {
      // A link to a package's file (a site or module enabled by its scripts) is the package's doing.
      continue;
    } else if (sums?.some((sum) => packages.allDigests.has(sum))) {
      // A copy of a file some package ships (/etc/profile from base-files): its install scripts put it there.
      continue;
    } else {
      kind = "unclassified";
    }
    const dir = f.path.slice(0, f.path.lastIndexOf("/"));
    let path = groupOfDir.get(dir);
    if (path === undefined || !isInside(f.path, path)) {
      path = groupPathOf(f.path, roots);
      // Files directly in a root are groups of their own; the rest of a directory shares its group.
      if (isInside(dir, path) || dir === path) groupOfDir.set(dir, path);
    }
    const key = `${kind} ${path}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        path,
        kind,
        files: 0,
        bytes: 0,
        newest: "",
        newestSeconds: 0,
        examples: [],
        packages: [],
        suggestion: suggest(path, kind),
      };
      groups.set(key, g);
    }
    g.files++;
    g.bytes += f.bytes;
    if (f.mtime > g.newestSeconds) g.newestSeconds = f.mtime;
    if (g.examples.length < 3) g.examples.push(f.path);
    if (pkg && !g.packages.includes(pkg)) g.packages.push(pkg);
  }
  return [...groups.values()]
    .map(({ newestSeconds, ...g }) => ({ ...g, newest: new Date(newestSeconds * 1000).toISOString() }))
    .sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path));
}

/** The policy lines that would classify every group as suggested. */
export function suggestedPolicy(groups: readonly AuditGroup[]): string {
  const byClass = new Map<string, string[]>();
  for (const g of groups) {
    const list = byClass.get(g.suggestion.dataClass) ?? [];
    if (!list.includes(g.suggestion.entry)) list.push(g.suggestion.entry);
    byClass.set(g.suggestion.dataClass, list);
  }
  return [...byClass]
    .map(([cls, entries]) => `${cls}:\n${entries.map((e) => `  - ${e}`).join("\n")}`)
    .join("\n");
}
