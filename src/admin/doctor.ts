// `lifeboat doctor`: every precondition of a good snapshot and restore, each with what to do when it fails.
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { readConfig, type TargetConfig } from "../config/load.js";
import { isLifeboatError, LifeboatError } from "../errors.js";
import { loadPolicies, type Policy } from "../policy/load.js";
import { findRestic } from "../restic/binary.js";
import { inspectHostRestic } from "../restic/on-host.js";
import { resolvePassword } from "../storage/password.js";
import { openRepository, repositoryExists } from "../storage/repository.js";
import { describeTransport, openTransport } from "../transport/open.js";
import { formatProblem } from "../yaml/located.js";

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string | undefined;
  code?: string | undefined;
  exitCode?: number | undefined;
}

export async function run(name: string, fn: () => Promise<string>): Promise<DoctorCheck> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    if (isLifeboatError(err))
      return { name, ok: false, detail: err.message, hint: err.hint, code: err.code, exitCode: err.exitCode };
    return { name, ok: false, detail: String(err), code: "INTERNAL", exitCode: 1 };
  }
}

async function localChecks(t: Extract<TargetConfig, { type: "local" }>): Promise<DoctorCheck[]> {
  return [
    await run(`${t.name}: directory writable`, async () => {
      const probe = path.join(t.path, `.doctor-${randomBytes(4).toString("hex")}`);
      try {
        await mkdir(t.path, { recursive: true, mode: 0o700 });
        await writeFile(probe, "probe");
        await rm(probe);
      } catch (err) {
        throw new LifeboatError(
          "STORAGE_UNREACHABLE",
          `cannot write to ${t.path}: ${(err as Error).message}`,
          {
            hint: "Create the directory and make it writable for the user that runs Lifeboat.",
          },
        );
      }
      return `${t.path} is writable`;
    }),
  ];
}

/** The host answers over its transport, and its restic will do (or Lifeboat may bring its own). */
async function hostCheck(policy: Policy): Promise<string> {
  const transport = await openTransport(policy.host, policy.transport);
  const restic = await inspectHostRestic(transport, {
    install: policy.installRestic,
    policyFile: policy.file,
  });
  const how = `reached over ${describeTransport(policy.transport)}`;
  return restic.usable
    ? `${how}; restic ${restic.version}`
    : `${how}; restic ${restic.found} there: each snapshot copies Lifeboat's own for the run`;
}

export async function doctor(options: {
  configFile?: string | undefined;
  logger?: Logger | undefined;
}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  checks.push(
    await run("restic", async () => {
      const restic = await findRestic();
      return `restic ${restic.version} at ${restic.path}`;
    }),
  );
  const { config, problems } = await readConfig({ file: options.configFile });
  const set = config ? await loadPolicies(config) : undefined;
  const all = [...problems, ...(set?.problems ?? [])];
  checks.push(
    all.length === 0
      ? { name: "config and policies", ok: true, detail: `${set?.policies.length ?? 0} valid policies` }
      : {
          name: "config and policies",
          ok: false,
          detail: all.map(formatProblem).join("\n"),
          hint: "Fix each line; `lifeboat validate` lists them again.",
          code: "POLICY_INVALID",
          exitCode: 2,
        },
  );
  if (!config || !set) return checks;
  for (const p of set.policies.filter((p) => p.transport.kind !== "local")) {
    checks.push(await run(`host ${p.host}`, () => hostCheck(p)));
  }
  for (const t of config.targets.values()) {
    const storage =
      t.type === "s3" ? await (await import("./doctor-s3.js")).s3Checks(t) : await localChecks(t);
    checks.push(...storage);
    const password = await run(`${t.name}: repository password`, async () => {
      await resolvePassword(t.password);
      return t.password.kind === "file"
        ? `key file ${t.password.path}`
        : `environment variable ${t.password.variable}`;
    });
    checks.push(password);
    if (!password.ok || storage.some((c) => !c.ok)) continue;
    for (const p of set.policies.filter((p) => p.repository === t.name)) {
      checks.push(
        await run(`${t.name}: repository of ${p.host}`, async () => {
          if (!(await repositoryExists(config, t.name, p.host)))
            return "none yet (the first snapshot or `lifeboat init` creates it)";
          const opened = await openRepository({
            config,
            targetName: t.name,
            host: p.host,
            logger: options.logger,
          });
          await opened.repo.openConfig();
          return `opens with the password (${opened.location})`;
        }),
      );
    }
  }
  return checks;
}
