// `lifeboat doctor`: every precondition of a good snapshot and restore, each with what to do when it fails.
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { readConfig, type S3TargetConfig, type TargetConfig } from "../config/load.js";
import { isLifeboatError, LifeboatError } from "../errors.js";
import { loadPolicies } from "../policy/load.js";
import { findRestic } from "../restic/binary.js";
import { resolvePassword } from "../storage/password.js";
import { openRepository, repositoryExists } from "../storage/repository.js";
import { createS3Client, storageError } from "../storage/s3.js";
import { formatProblem } from "../yaml/located.js";

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  hint?: string | undefined;
  code?: string | undefined;
  exitCode?: number | undefined;
}

/** The most a server's clock may differ from ours before signed S3 requests start to fail (AWS: 15 min). */
const MAX_SKEW_SECONDS = 300;

async function run(name: string, fn: () => Promise<string>): Promise<DoctorCheck> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    if (isLifeboatError(err))
      return { name, ok: false, detail: err.message, hint: err.hint, code: err.code, exitCode: err.exitCode };
    return { name, ok: false, detail: String(err), code: "INTERNAL", exitCode: 1 };
  }
}

async function s3Checks(t: S3TargetConfig): Promise<DoctorCheck[]> {
  const client = createS3Client(t);
  let serverDate: string | undefined;
  // The server's Date header, to compare clocks: S3 rejects requests signed too far from its time.
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string> }).headers;
      serverDate ??= headers?.date;
      return result;
    },
    { step: "deserialize", name: "lifeboatServerDate" },
  );
  const checks: DoctorCheck[] = [];
  const credentials = await run(`${t.name}: credentials`, async () => {
    try {
      const c = await client.config.credentials();
      return `found (access key ${c.accessKeyId.slice(0, 4)}…)`;
    } catch (err) {
      throw storageError(err, t, "load credentials");
    }
  });
  checks.push(credentials);
  if (!credentials.ok) return checks;
  const key = `${t.prefix}/_doctor/${randomBytes(6).toString("hex")}`;
  const body = randomBytes(32).toString("hex");
  const probe = await run(`${t.name}: bucket write, read, delete`, async () => {
    try {
      await client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: body }));
      const got = await client.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }));
      const back = await got.Body?.transformToString("utf8");
      await client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: key }));
      if (back !== body)
        throw new LifeboatError("STORAGE_UNREACHABLE", `s3://${t.bucket}/${key} read back different bytes`);
      return `s3://${t.bucket}/${t.prefix}: probe object written, read back and deleted`;
    } catch (err) {
      throw isLifeboatError(err) ? err : storageError(err, t, "write, read and delete a probe object");
    }
  });
  checks.push(probe);
  if (probe.ok) {
    checks.push(
      await run(`${t.name}: clock`, async () => {
        if (!serverDate) return "the server sent no Date header; clock not compared";
        const skew = Math.round((Date.now() - Date.parse(serverDate)) / 1000);
        if (Math.abs(skew) > MAX_SKEW_SECONDS) {
          throw new LifeboatError(
            "STORAGE_ACCESS_DENIED",
            `this machine's clock is ${skew}s off the server's`,
            {
              hint: "Signed S3 requests fail when clocks differ by more than 15 minutes. Enable NTP (timedatectl set-ntp true).",
            },
          );
        }
        return `${skew}s from the server's clock`;
      }),
    );
  }
  return checks;
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
  for (const t of config.targets.values()) {
    const storage = t.type === "s3" ? await s3Checks(t) : await localChecks(t);
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
