// `lifeboat kit`: what a person must keep offline to rebuild everything on a new controller. Secrets are
// printed only when asked for; the S3 credentials are never Lifeboat's to print (they come from AWS).
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import type { LifeboatConfig, TargetConfig } from "../config/load.js";
import { requireValidPolicies } from "../policy/load.js";
import { resolvePassword } from "../storage/password.js";
import { s3Location } from "../storage/s3-location.js";
import { VERSION } from "../version.js";
import { type SourceInfo, sourceInfo } from "./git.js";
import { controllerIamPolicy, hostIamPolicy, type IamPolicy } from "./iam.js";

export interface KitTarget {
  name: string;
  settings: Record<string, unknown>;
  password: { source: "file"; path: string } | { source: "env"; variable: string };
  /** Present only with showSecrets. */
  secret?: string | undefined;
  hosts: Array<{ host: string; repository: string }>;
  /** S3 targets: the IAM policy of the controller's key and of each host's own key. */
  iam?: { controller: IamPolicy; hosts: Record<string, IamPolicy> } | undefined;
}

export interface Kit {
  generatedAt: string;
  generatedOn: string;
  lifeboatVersion: string;
  source: SourceInfo;
  configFile: string | undefined;
  configText: string | undefined;
  targets: KitTarget[];
}

function settingsOf(t: TargetConfig): Record<string, unknown> {
  if (t.type === "local") return { type: "local", path: t.path };
  const { name: _n, password: _p, ...rest } = t;
  return rest;
}

export async function buildKit(config: LifeboatConfig, showSecrets: boolean): Promise<Kit> {
  const policies = await requireValidPolicies(config);
  const targets: KitTarget[] = [];
  for (const t of config.targets.values()) {
    const secret = showSecrets ? (await resolvePassword(t.password)).secret : undefined;
    targets.push({
      name: t.name,
      settings: settingsOf(t),
      password:
        t.password.kind === "file"
          ? { source: "file", path: t.password.path }
          : { source: "env", variable: t.password.variable },
      secret,
      iam:
        t.type === "s3"
          ? {
              controller: controllerIamPolicy(t),
              hosts: Object.fromEntries(
                policies
                  .filter((p) => p.repository === t.name && p.transport.kind !== "local")
                  .map((p) => [p.host, hostIamPolicy(t, p.host)]),
              ),
            }
          : undefined,
      hosts: policies
        .filter((p) => p.repository === t.name)
        .map((p) => ({
          host: p.host,
          repository: t.type === "s3" ? s3Location(t, p.host) : `${t.path}/${p.host}`,
        })),
    });
  }
  return {
    generatedAt: new Date().toISOString(),
    generatedOn: hostname(),
    lifeboatVersion: VERSION,
    source: await sourceInfo(config.baseDir),
    configFile: config.file,
    configText: config.file ? await readFile(config.file, "utf8") : undefined,
    targets,
  };
}

export function renderKit(kit: Kit): string {
  const lines = [
    "LIFEBOAT RECOVERY KIT",
    "Keep this offline (printed, or in a password manager), away from the machines it protects.",
    `Generated ${kit.generatedAt} on ${kit.generatedOn} by lifeboat ${kit.lifeboatVersion}.`,
    "",
    "1. The code: policies, runbooks and lifeboat.yaml",
  ];
  const s = kit.source;
  if (s.commit) {
    lines.push(
      `   git repository: ${s.remote ?? "(no remote 'origin': push it somewhere off this machine!)"}`,
    );
    lines.push(
      `   commit: ${s.commit}${s.dirty ? "  (WARNING: uncommitted changes are not in the repository)" : ""}`,
    );
  } else {
    lines.push(
      `   directory: ${s.directory} (WARNING: not a git repository; keep a copy of it with this kit)`,
    );
  }
  lines.push("", "2. Storage targets");
  for (const t of kit.targets) {
    lines.push(`   ${t.name}:`);
    for (const [k, v] of Object.entries(t.settings))
      if (v !== undefined) lines.push(`     ${k}: ${String(v)}`);
    if (t.password.source === "file")
      lines.push(`     repository password: in the key file ${t.password.path} (mode 0600)`);
    else lines.push(`     repository password: in the environment variable ${t.password.variable}`);
    lines.push(
      t.secret !== undefined
        ? `     PASSWORD: ${t.secret}`
        : "     password: not shown (run `lifeboat kit --show-secrets` to include it in the kit)",
    );
    if (t.settings.type === "s3") {
      lines.push(
        "     S3 credentials: from the AWS chain, not stored by Lifeboat: keep an access key for this bucket with this kit.",
      );
    }
    for (const h of t.hosts) lines.push(`     host ${h.host}: ${h.repository}`);
  }
  if (kit.configText) {
    lines.push(
      "",
      `3. lifeboat.yaml (${kit.configFile})`,
      ...kit.configText
        .trimEnd()
        .split("\n")
        .map((l) => `   | ${l}`),
    );
  } else {
    lines.push(
      "",
      "3. lifeboat.yaml: none; the embedded default (one local target under $LIFEBOAT_HOME) is in use",
    );
  }
  const first = kit.targets[0];
  const anyHost = kit.targets.flatMap((t) => t.hosts)[0]?.host ?? "HOST";
  lines.push(
    "",
    "4. Rebuild on a new controller (Debian 12, as root)",
    `   git clone ${kit.source.remote ?? "<the repository above>"} lifeboat-config && cd lifeboat-config`,
    "   ./scripts/setup.sh",
  );
  if (first?.password.source === "file") {
    const key = first.password.path;
    lines.push(
      `   mkdir -p "$(dirname ${key})" && install -m 600 /dev/null ${key} && printf '%s\\n' 'THE PASSWORD' > ${key}`,
    );
  } else if (first) {
    lines.push(`   export ${first.password.variable}='THE PASSWORD'`);
  }
  lines.push(
    "   export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...     (for S3 targets)",
    "   bin/lifeboat.js doctor && bin/lifeboat.js status",
    `   bin/lifeboat.js restore --host ${anyHost} --target /srv/restore`,
  );
  return lines.join("\n");
}

/** `kit --iam`: the S3 access policies, one JSON document per key, to paste into the storage's IAM. */
export function renderIam(kit: Kit): string {
  const lines: string[] = [];
  for (const t of kit.targets) {
    if (!t.iam) continue;
    lines.push(
      `# ${t.name}: the controller's key (everything under the prefix)`,
      JSON.stringify(t.iam.controller, null, 2),
    );
    for (const [host, policy] of Object.entries(t.iam.hosts))
      lines.push(
        `# ${t.name}: ${host}'s own key (its repository only; no delete but its locks)`,
        JSON.stringify(policy, null, 2),
      );
  }
  return lines.length ? lines.join("\n") : "no S3 target: nothing to grant";
}
