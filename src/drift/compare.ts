// Rebuild drift: after a drill's runbook has rebuilt the machine (before any data is restored), its rebuildable
// paths and installed packages are compared with production's. What production has and the code does not
// produce is state nobody classified, or a hand change the runbook does not know.
import type { Logger } from "pino";
import { classOf } from "../policy/classify.js";
import { databaseFiles } from "../policy/databases.js";
import type { Policy } from "../policy/load.js";
import type { Transport } from "../transport/types.js";

/** Lists hold at most this many paths each; the counts are complete. */
const LIST_LIMIT = 200;

export interface Drift {
  /** False when production could not be read (the drill goes on; drift is then unknown). */
  compared: boolean;
  reason?: string | undefined;
  seconds: number;
  /** The policy's rebuildable paths. */
  paths: string[];
  /** Files the runbook writes from a template that uses {{runId}}: they differ on every run by design. */
  notCompared?: string[] | undefined;
  /**
   * Not compared at all: the dumped databases' own files (the dump is what comes back) and the services' runtime
   * files (pid files, sockets, /run): they differ on every machine and say nothing about the runbook.
   */
  skipped?: string[] | undefined;
  /** Files only production has that the policy expects (`drift.expected`): listed, not a warning. */
  expected?: string[] | undefined;
  files: {
    onlyProduction: string[];
    onlyRebuilt: string[];
    differ: string[];
    counts: { same: number; onlyProduction: number; onlyRebuilt: number; differ: number };
  };
  /** Installed packages (dpkg), when both machines have dpkg. */
  packages?:
    | {
        onlyProduction: string[];
        onlyRebuilt: string[];
        versionDiffers: Array<{ name: string; production: string; rebuilt: string }>;
      }
    | undefined;
}

// On each machine: "<md5>  <path>\0" for every file and "L:<target>\t<path>\0" for every symlink under the paths.
const MANIFEST =
  'for p in "$@"; do [ -e "$p" ] || continue; ' +
  'find "$p" -xdev -type f -print0 | xargs -0 -r md5sum -z --; ' +
  "find \"$p\" -xdev -type l -printf 'L:%l\\t%p\\0'; done";

// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a template
const PACKAGES = "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\n' 2>/dev/null || exit 3";

async function manifest(t: Transport, paths: string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const r = await t.run(["sh", "-c", MANIFEST, "lifeboat", ...paths], { signal, timeoutMs: 1_800_000 });
  if (r.exitCode !== 0)
    throw new Error(`listing the rebuildable paths on ${t.host} failed: ${r.stderr.trim()}`);
  const out = new Map<string, string>();
  for (const rec of r.stdout.split("\0")) {
    const file = /^([0-9a-f]{32}) {2}([\s\S]+)$/.exec(rec);
    if (file?.[1] && file[2]) {
      out.set(file[2], file[1]);
      continue;
    }
    const link = /^L:([^\t]*)\t([\s\S]+)$/.exec(rec);
    if (link?.[2]) out.set(link[2], `-> ${link[1]}`);
  }
  return out;
}

async function packages(t: Transport, signal?: AbortSignal): Promise<Map<string, string> | undefined> {
  const r = await t.run(["sh", "-c", PACKAGES], { signal, timeoutMs: 300_000 });
  if (r.exitCode !== 0) return undefined;
  const out = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const [status, name, version] = line.split("\t");
    if (status?.startsWith("ii") && name && version !== undefined) out.set(name, version);
  }
  return out;
}

const capped = (xs: string[]): string[] => xs.sort().slice(0, LIST_LIMIT);

// A service's runtime files: pid files, sockets, locks, and whatever lives under /run.
const RUNTIME = /(\.pid|\.sock|\.socket|\.lock)$|^\/(var\/)?run\/|^\/var\/lock\//;

/** Compares the rebuilt machine with production; never throws for production's sake (it may be the dead one). */
export async function compareRebuild(options: {
  policy: Policy;
  production: () => Promise<Transport>;
  rebuilt: Transport;
  /**
   * Files the runbook renders from templates, with the md5 their content has when rendered for production
   * (its name and address), or null when that cannot be known: production is compared with these, not with
   * the rebuild, whose name and address differ by design.
   */
  expectedInProduction?: ((production: Transport) => Promise<Map<string, string | null>>) | undefined;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
}): Promise<Drift> {
  const { policy, rebuilt, signal } = options;
  const started = Date.now();
  const paths = policy.entries.filter((e) => e.dataClass === "rebuildable").map((e) => e.path);
  const empty: Drift["files"] = {
    onlyProduction: [],
    onlyRebuilt: [],
    differ: [],
    counts: { same: 0, onlyProduction: 0, onlyRebuilt: 0, differ: 0 },
  };
  const seconds = () => (Date.now() - started) / 1000;
  let production: Transport;
  let prodFiles: Map<string, string>;
  let prodPackages: Map<string, string> | undefined;
  let expected = new Map<string, string | null>();
  try {
    production = await options.production();
    [prodFiles, prodPackages, expected] = await Promise.all([
      paths.length ? manifest(production, paths, signal) : new Map<string, string>(),
      packages(production, signal),
      options.expectedInProduction?.(production) ?? new Map<string, string | null>(),
    ]);
  } catch (err) {
    if (signal?.aborted) throw err;
    const reason = `production could not be read: ${(err as Error).message}`;
    options.logger?.warn({ reason }, "rebuild drift not compared");
    return { compared: false, reason, seconds: seconds(), paths, files: empty };
  }
  const [newFiles, newPackages] = await Promise.all([
    paths.length ? manifest(rebuilt, paths, signal) : new Map<string, string>(),
    packages(rebuilt, signal),
  ]);
  // Only what the policy calls rebuildable (an irreplaceable or ignored path inside one is not compared), and not
  // the databases' own files or what a running service leaves behind.
  const skipped = databaseFiles(policy.databases);
  const under = (p: string, dirs: readonly string[]) => dirs.some((d) => p === d || p.startsWith(`${d}/`));
  const rebuildable = (p: string) =>
    classOf(policy.entries, p) === "rebuildable" && !under(p, skipped) && !RUNTIME.test(p);
  const onlyProduction: string[] = [];
  const onlyRebuilt: string[] = [];
  const differ: string[] = [];
  const notCompared: string[] = [];
  const expectedOnly: string[] = [];
  let same = 0;
  for (const [p, sum] of prodFiles) {
    if (!rebuildable(p)) continue;
    const rendered = expected.get(p);
    if (rendered === null) {
      notCompared.push(p);
      continue;
    }
    const other = rendered ?? newFiles.get(p);
    if (other === undefined) (under(p, policy.expectedDrift) ? expectedOnly : onlyProduction).push(p);
    else if (other !== sum) differ.push(p);
    else same++;
  }
  for (const p of newFiles.keys()) if (rebuildable(p) && !prodFiles.has(p)) onlyRebuilt.push(p);
  let pkgs: Drift["packages"];
  if (prodPackages && newPackages) {
    pkgs = {
      onlyProduction: capped([...prodPackages.keys()].filter((n) => !newPackages.has(n))),
      onlyRebuilt: capped([...newPackages.keys()].filter((n) => !prodPackages.has(n))),
      versionDiffers: [...prodPackages]
        .filter(([n, v]) => newPackages.has(n) && newPackages.get(n) !== v)
        .map(([name, production]) => ({ name, production, rebuilt: newPackages.get(name) ?? "" }))
        .sort((a, b) => a.name.localeCompare(b.name))
        .slice(0, LIST_LIMIT),
    };
  }
  return {
    compared: true,
    seconds: seconds(),
    paths,
    notCompared: notCompared.length ? capped(notCompared) : undefined,
    skipped: skipped.length ? skipped : undefined,
    expected: expectedOnly.length ? capped(expectedOnly) : undefined,
    files: {
      onlyProduction: capped(onlyProduction),
      onlyRebuilt: capped(onlyRebuilt),
      differ: capped(differ),
      counts: {
        same,
        onlyProduction: onlyProduction.length,
        onlyRebuilt: onlyRebuilt.length,
        differ: differ.length,
      },
    },
    packages: pkgs,
  };
}

/** Whether a drift holds anything to act on. */
export function hasDrift(d: Drift | undefined): boolean {
  if (!d?.compared) return false;
  const c = d.files.counts;
  const p = d.packages;
  return (
    c.onlyProduction + c.onlyRebuilt + c.differ > 0 ||
    (p ? p.onlyProduction.length + p.onlyRebuilt.length + p.versionDiffers.length > 0 : false)
  );
}
