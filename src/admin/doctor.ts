// `lifeboat doctor`: every precondition of a good snapshot and restore, each with what to do when it fails.
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { type LifeboatConfig, readConfig, type TargetConfig } from "../config/load.js";
import { isLoopback } from "../config/schema.js";
import { LifeboatError } from "../errors.js";
import { dumpEnv, listCommand, SYSTEM_DATABASES } from "../policy/databases.js";
import { loadPolicies, type Policy } from "../policy/load.js";
import { findRestic } from "../restic/binary.js";
import { inspectHostRestic } from "../restic/on-host.js";
import { resolvePassword } from "../storage/password.js";
import { openRepository, repositoryExists } from "../storage/repository.js";
import { describeTransport, openTransport } from "../transport/open.js";
import { formatProblem } from "../yaml/located.js";
import { type DoctorCheck, run } from "./check.js";

export type { DoctorCheck } from "./check.js";

/** The vault: its directory here, and its server answering where hosts reach it. */
async function vaultChecks(t: Extract<TargetConfig, { type: "rest" }>): Promise<DoctorCheck[]> {
  const { probeVault } = await import("../storage/vault.js");
  return [
    ...(await localChecks(t)),
    await run(`${t.name}: vault answers`, async () => {
      await probeVault(t);
      return `${t.url} answers`;
    }),
  ];
}

async function localChecks(t: Extract<TargetConfig, { type: "local" | "rest" }>): Promise<DoctorCheck[]> {
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

/** Each database of the policy answers with the policy's connection settings, as the dumps will need. */
async function databasesCheck(policy: Policy): Promise<string> {
  const transport = await openTransport(policy.host, policy.transport);
  const found: string[] = [];
  for (const source of policy.databases) {
    if (source.passwordEnv && !process.env[source.passwordEnv]) {
      throw new LifeboatError(
        "CREDENTIALS_MISSING",
        `the ${source.engine} password variable ${source.passwordEnv} is not set`,
        {
          hint: `Export ${source.passwordEnv} for Lifeboat; the dumps of ${policy.host} need it.`,
        },
      );
    }
    if (source.engine === "sqlite") {
      const [file] = source.databases === "all" ? [] : source.databases;
      const r = await transport.run(["test", "-f", file ?? ""], { timeoutMs: 60_000 });
      if (r.exitCode !== 0)
        throw new LifeboatError(
          "DATA_MISSING",
          `the SQLite database ${file} does not exist on ${policy.host}`,
          {
            hint: "Fix the path in the policy.",
          },
        );
      found.push(`sqlite ${file}`);
      continue;
    }
    const r = await transport.run(listCommand(source), {
      env: dumpEnv(source, process.env).env,
      timeoutMs: 60_000,
    });
    if (source.engine === "redis") {
      // redis-cli exits 0 with an error reply too (NOAUTH, WRONGPASS): only PONG is an answer.
      if (r.exitCode !== 0 || r.stdout.trim() !== "PONG")
        throw new LifeboatError(
          "DUMP_FAILED",
          `cannot reach redis on ${policy.host}: ${(r.stdout.trim() || r.stderr.trim()).split("\n").at(-1) ?? `exit ${r.exitCode}`}`,
          { hint: "Check redis-cli on the host and the policy's host, port, socket, user and password." },
        );
      found.push(`redis ${source.databases === "all" ? "" : source.databases.join(", ")}`.trim());
      continue;
    }
    if (r.exitCode !== 0) {
      throw new LifeboatError(
        "DUMP_FAILED",
        `cannot reach ${source.engine} on ${policy.host}: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.exitCode}`}`,
        { hint: "Check the client tools on the host and the policy's host, port, user, password and runAs." },
      );
    }
    const there = r.stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    const wanted =
      source.databases === "all" ? there.filter((d) => !SYSTEM_DATABASES.has(d)) : source.databases;
    const absent = wanted.filter((d) => !there.includes(d));
    if (absent.length > 0)
      throw new LifeboatError(
        "DATA_MISSING",
        `${source.engine} on ${policy.host} has no database ${absent.join(", ")}`,
        {
          hint: `Databases there: ${there.join(", ")}. Fix the policy, or restore the database.`,
        },
      );
    found.push(`${source.engine} ${wanted.join(", ")}`);
  }
  return `reachable: ${found.join("; ")}`;
}

/** What crosses a network in clear because the config allows it (allowInsecure). */
function plainTextConnections(config: LifeboatConfig): string[] {
  const out: string[] = [];
  for (const t of config.targets.values())
    if (t.type === "s3" && t.endpoint?.startsWith("http://") && !isLoopback(new URL(t.endpoint).hostname))
      out.push(`target ${t.name} at ${t.endpoint}`);
  const smtp = config.mail?.smtp;
  if (smtp?.security === "none" && !isLoopback(smtp.host)) out.push(`SMTP to ${smtp.host}:${smtp.port}`);
  return out;
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
  const insecure = plainTextConnections(config);
  if (insecure.length > 0)
    checks.push({
      name: "plain-text connections",
      ok: false,
      detail: `allowed by allowInsecure: ${insecure.join("; ")}`,
      hint: "Whoever is on the network between can read (and change) what crosses it: use TLS and drop allowInsecure.",
      code: "INSECURE_ALLOWED",
    });
  for (const p of set.policies.filter((p) => p.transport.kind !== "local")) {
    checks.push(await run(`host ${p.host}`, () => hostCheck(p)));
  }
  for (const p of set.policies.filter((p) => p.databases.length > 0)) {
    checks.push(await run(`databases of ${p.host}`, () => databasesCheck(p)));
  }
  for (const t of config.targets.values()) {
    const storage =
      t.type === "s3"
        ? await (await import("./doctor-s3.js")).s3Checks(t)
        : t.type === "rest"
          ? await vaultChecks(t)
          : await localChecks(t);
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
