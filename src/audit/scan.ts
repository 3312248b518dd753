// `lifeboat audit`: what a live host keeps that its policy does not classify. Reads file metadata only (find),
// the package database (dpkg), and the contents of package files alone, to compare them with their recorded md5.
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import { databaseFiles } from "../policy/databases.js";
import type { Policy } from "../policy/load.js";
import type { Transport } from "../transport/types.js";
import { scanArgv } from "./find-args.js";
import { type AuditGroup, groupFindings, type PackageFacts, type ScannedFile } from "./findings.js";

/** The usual places state hides; a policy adds its own with `audit.paths`. */
export const AUDIT_ROOTS = ["/srv", "/var/lib", "/var/www", "/home", "/opt", "/etc", "/root"];

/** Kept by the system and its package manager, rebuilt with the packages: never findings. */
export const SYSTEM_PATHS = [
  "/var/lib/dpkg",
  "/var/lib/rpm",
  "/var/lib/apt",
  "/var/lib/ucf",
  "/var/lib/systemd",
  "/var/lib/pam",
  "/var/lib/dbus",
  "/var/lib/misc",
  "/var/lib/polkit-1",
  "/var/lib/sgml-base",
  "/var/lib/xml-core",
  "/var/lib/python",
  "/var/lib/dhcp",
  "/var/lib/initramfs-tools",
  "/var/lib/logrotate",
  "/var/lib/private",
  "/var/cache",
  // Caches (restic's own among them, which Lifeboat leaves there): rebuilt by whoever made them.
  "/root/.cache",
  "/etc/alternatives",
  "/etc/ld.so.cache",
  "/etc/ssl/certs",
  // ca-certificates' own list of enabled certificates, written by its maintainer script on every host with TLS.
  "/etc/ca-certificates.conf",
  "/etc/.pwd.lock",
  "/etc/mtab",
  "/etc/resolv.conf",
  "/etc/hostname",
  "/etc/hosts",
  "/etc/machine-id",
  "/etc/passwd",
  "/etc/group",
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/subuid",
  "/etc/subgid",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/fstab",
  "/etc/pam.d/common-account",
  "/etc/pam.d/common-auth",
  "/etc/pam.d/common-password",
  "/etc/pam.d/common-session",
  "/etc/pam.d/common-session-noninteractive",
  "/var/lib/shells.state",
  "/etc/passwd-",
  "/etc/group-",
  "/etc/shadow-",
  "/etc/gshadow-",
  "/etc/subuid-",
  "/etc/subgid-",
];

/** Where package scripts copy files from /usr/share: small unowned files here are compared with every package digest. */
const COPY_ROOTS = ["/etc", "/root", "/var/www"];
const COPY_MAX_BYTES = 1024 * 1024;

/** Symlinks that package scripts make (service enablement): a finding only when they are regular files. */
const ENABLE_LINK_DIRS = /^\/etc\/(rc[0-6S]\.d|systemd\/system)\//;

/** Where a database server keeps its files: the policy's dump of it is how that data is classified. */

export interface AuditResult {
  host: string;
  at: string;
  seconds: number;
  roots: string[];
  /** Files and symlinks looked at (outside every classified path). */
  scanned: number;
  /** Files whose contents were compared with their package's recorded digest (or all packages' digests). */
  verified: number;
  groups: AuditGroup[];
  /** What find or md5sum could not read, briefly. */
  warnings: string[];
}

export interface AuditOptions {
  signal?: AbortSignal | undefined;
  /** Called as files stream in (every few thousand) with the count so far. */
  onProgress?: ((scanned: number) => void) | undefined;
}

/** The paths not to descend into: every classified path, database server directories, system state. */
export function prunedPaths(policy: Policy): string[] {
  return [
    ...new Set([...policy.entries.map((e) => e.path), ...databaseFiles(policy.databases), ...SYSTEM_PATHS]),
  ].sort();
}

export async function auditHost(
  transport: Transport,
  policy: Policy,
  options: AuditOptions = {},
): Promise<AuditResult> {
  const started = Date.now();
  const roots = [...new Set([...AUDIT_ROOTS, ...policy.auditPaths])].sort();
  const warnings: string[] = [];
  // Two round trips side by side: the package database does not depend on the scan.
  const [packages, files] = await Promise.all([
    readPackages(transport, roots, options.signal),
    scanFiles(transport, roots, prunedPaths(policy), options, warnings),
  ]);
  // Only package files are read (and small configuration files, to recognise a package's copies), to compare
  // them with what the packages installed.
  const toVerify = files
    .filter(
      (f) =>
        f.type === "f" &&
        (packages.digest.has(f.path) ||
          (!packages.owned.has(f.path) &&
            f.bytes <= COPY_MAX_BYTES &&
            COPY_ROOTS.some((r) => f.path.startsWith(`${r}/`)))),
    )
    .map((f) => f.path);
  // sha256 too where any package records one (rpm's default since 4.14); dpkg records md5 only.
  const sha256 = [...packages.allDigests].some((d) => d.length === 64);
  const actual = await digestsOnHost(transport, toVerify, sha256, options.signal, warnings);
  return {
    host: policy.host,
    at: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    roots,
    scanned: files.length,
    verified: toVerify.length,
    groups: groupFindings(files, packages, actual, roots),
    warnings,
  };
}

// One round trip: dpkg's owned paths, md5sums of package files, conffiles and ucf's hashfile, and rpm's files
// with their digests, each section marked. A host may have both (rpm on Debian): both count. Exit 3: neither.
const PACKAGES_SCRIPT = [
  "found=0",
  "if command -v dpkg-query >/dev/null 2>&1 && cd /var/lib/dpkg/info 2>/dev/null; then found=1",
  "echo @owned; cat ./*.list",
  'echo @md5; awk \'{ f = FILENAME; sub(/^\\.\\//, "", f); sub(/\\.md5sums$/, "", f); print f " " $0 }\' ./*.md5sums',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a template
  "echo @conffiles; dpkg-query -W -f='${Package}\\n${Conffiles}\\n'",
  "echo @ucf; cat /var/lib/ucf/hashfile 2>/dev/null",
  "fi",
  'if command -v rpm >/dev/null 2>&1 && [ -n "$(rpm -qa 2>/dev/null | head -1)" ]; then found=1',
  // %{=NAME}: the package's name repeated on each of its files' lines.
  "echo @rpm; rpm -qa --qf '[%{FILENAMES}\\t%{FILEDIGESTS}\\t%{=NAME}\\n]' || exit 4",
  "fi",
  '[ "$found" = 1 ] || exit 3',
].join("\n");

async function readPackages(
  transport: Transport,
  roots: readonly string[],
  signal: AbortSignal | undefined,
): Promise<PackageFacts> {
  const r = await transport.run(["sh", "-c", PACKAGES_SCRIPT], { signal, timeoutMs: 300_000 });
  if (r.exitCode === 3) {
    throw new LifeboatError(
      "AUDIT_UNSUPPORTED",
      `${transport.host} has no package database (dpkg or rpm): lifeboat audit reads one to tell package files from data`,
      {
        hint: "Audit a host installed from packages (Debian, Ubuntu: dpkg; Fedora, RHEL, SUSE: rpm); elsewhere, review the usual state places (/srv, /var/lib, /etc, /home, /opt) against the policy by hand.",
      },
    );
  }
  if (r.exitCode !== 0)
    throw new LifeboatError(
      "AUDIT_FAILED",
      `cannot read the package database on ${transport.host}: ${r.stderr.trim()}`,
      {
        hint: `Run \`dpkg-query -W\` (or \`rpm -qa\`) on ${transport.host} as the policy's login user: it must work for the audit to tell package files from data.`,
      },
    );
  const inScope = (p: string) => roots.some((root) => p === root || p.startsWith(`${root}/`));
  const owned = new Set<string>();
  const digest = new Map<string, { sum: string; pkg: string }>();
  const allDigests = new Set<string>();
  let section = "";
  let pkg = "";
  for (const line of r.stdout.split("\n")) {
    if (line.startsWith("@")) {
      section = line;
      continue;
    }
    if (section === "@owned") {
      if (inScope(line)) owned.add(line);
    } else if (section === "@md5") {
      // "<package> <md5>  <path without its leading slash>"
      const m = /^(\S+) ([0-9a-f]{32}) {2}(.+)$/.exec(line);
      if (m?.[2]) allDigests.add(m[2]);
      if (m?.[1] && m[2] && m[3] && inScope(`/${m[3]}`))
        digest.set(`/${m[3]}`, { sum: m[2], pkg: m[1].replace(/:.*$/, "") });
    } else if (section === "@conffiles") {
      // A package name, then " <path> <md5>[ obsolete]" per conffile.
      const m = /^ (\/\S+) ([0-9a-f]{32})/.exec(line);
      if (m?.[1] && m[2]) {
        allDigests.add(m[2]);
        if (inScope(m[1])) digest.set(m[1], { sum: m[2], pkg });
      } else if (line.trim()) pkg = line.trim();
    } else if (section === "@ucf") {
      // Configuration files that packages manage with ucf (sshd_config): "<md5>  <path>" of the shipped version.
      const m = /^([0-9a-f]{32}) {2}(\/\S+)$/.exec(line);
      if (m?.[1] && m[2] && inScope(m[2]) && !digest.has(m[2])) digest.set(m[2], { sum: m[1], pkg: "ucf" });
    } else if (section === "@rpm") {
      // "<path>\t<digest, empty for directories and links>\t<package>"
      const [path, sum, name] = line.split("\t");
      if (!path || !name) continue;
      if (sum && /^([0-9a-f]{32}|[0-9a-f]{64})$/.test(sum)) allDigests.add(sum);
      if (!inScope(path)) continue;
      owned.add(path);
      if (sum && !digest.has(path)) digest.set(path, { sum, pkg: name });
    }
  }
  return { owned, digest, allDigests };
}

async function scanFiles(
  transport: Transport,
  roots: readonly string[],
  pruned: readonly string[],
  options: AuditOptions,
  warnings: string[],
): Promise<ScannedFile[]> {
  const argv = scanArgv(roots, pruned);
  const files: ScannedFile[] = [];
  let rest = "";
  let nextReport = 5000;
  const { stderr, exitCode } = await streamOnHost(transport, argv, options.signal, (chunk) => {
    const records = (rest + chunk).split("\0");
    rest = records.pop() ?? "";
    for (const rec of records) {
      const [type, size, mtime, target, ...name] = rec.split("\t");
      const path = name.join("\t");
      if (!path || (type !== "f" && type !== "l")) continue;
      if (type === "l" && ENABLE_LINK_DIRS.test(path)) continue;
      files.push({ path, type, bytes: Number(size), mtime: Number(mtime), target: target || undefined });
    }
    if (files.length >= nextReport) {
      options.onProgress?.(files.length);
      nextReport = files.length + 5000;
    }
  });
  if (exitCode > 1)
    throw new LifeboatError(
      "AUDIT_FAILED",
      `find failed on ${transport.host} (exit ${exitCode}): ${stderr.trim()}`,
      {
        hint: `lifeboat audit needs GNU find (findutils) on ${transport.host}.`,
      },
    );
  // find says so (exit 1) for roots this host does not have, and for what it may not read.
  for (const line of stderr.split("\n")) {
    if (!line.trim() || / No such file or directory$/.test(line)) continue;
    if (warnings.length < 20) warnings.push(line.replace(/^find: /, ""));
  }
  options.onProgress?.(files.length);
  return files;
}

/** Runs argv on the host and hands its stdout over as it arrives; resolves with stderr and the exit code. */
async function streamOnHost(
  transport: Transport,
  argv: string[],
  signal: AbortSignal | undefined,
  onChunk: (chunk: string) => void,
): Promise<{ stderr: string; exitCode: number }> {
  const launch = transport.launch(argv);
  const child = execa(launch.file, launch.args, {
    env: launch.env,
    extendEnv: false,
    stdin: launch.stdinPrefix ? "pipe" : "ignore",
    buffer: { stdout: false, stderr: true },
    reject: false,
    cancelSignal: signal,
    forceKillAfterDelay: 5_000,
  });
  if (launch.stdinPrefix) {
    child.stdin?.on("error", () => {});
    child.stdin?.write(launch.stdinPrefix);
  }
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (d: string) => onChunk(d));
  const r = await child;
  if (r.isCanceled) throw new LifeboatError("INTERRUPTED", `the audit of ${transport.host} was interrupted`);
  const stderr = String(r.stderr ?? "");
  return { stderr, exitCode: launch.exitCode(r.exitCode, stderr) };
}

async function digestsOnHost(
  transport: Transport,
  paths: readonly string[],
  sha256: boolean,
  signal: AbortSignal | undefined,
  warnings: string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (paths.length === 0) return out;
  const input = `${paths.join("\0")}\0`;
  for (const tool of sha256 ? ["md5sum", "sha256sum"] : ["md5sum"]) {
    const r = await transport.run(["xargs", "-0", "-r", tool, "--"], {
      stdin: input,
      signal,
      timeoutMs: 600_000,
    });
    for (const line of r.stdout.split("\n")) {
      const m = /^([0-9a-f]{32}|[0-9a-f]{64}) {2}(.+)$/.exec(line);
      if (m?.[1] && m[2]) out.set(m[2], [...(out.get(m[2]) ?? []), m[1]]);
    }
    for (const line of r.stderr.split("\n").filter(Boolean).slice(0, 5)) warnings.push(line);
  }
  return out;
}
