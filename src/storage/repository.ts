// Opens the restic repository of one host on its storage target, creating it on first use.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { LifeboatConfig, TargetConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { findRestic } from "../restic/binary.js";
import { ResticRepository } from "../restic/engine.js";
import type { HostRestic } from "../restic/on-host.js";
import { openBackend } from "./backend.js";
import { generateKeyFile, resolvePassword } from "./password.js";
import { isProven, markProven } from "./proof.js";

export interface OpenedRepository {
  repo: ResticRepository;
  target: TargetConfig;
  /** Where the repository lives (a directory, or an s3: URL). */
  location: string;
  resticVersion: string;
  /** Set when this call created the repository. */
  created?: { keyFile: string | undefined; keyGenerated: boolean };
}

export interface OpenOptions {
  config: LifeboatConfig;
  targetName: string;
  host: string;
  /** Create the repository (and its key file) when there is none. */
  create?: boolean;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv;
  /** Run restic on this host rather than here. */
  onHost?: HostRestic | undefined;
  /** Prove that the password opens an existing repository before returning (a new one always is). */
  prove?: boolean;
}

export function targetOf(config: LifeboatConfig, name: string): TargetConfig {
  const target = config.targets.get(name);
  if (!target) {
    throw new LifeboatError("CONFIG_INVALID", `storage target "${name}" is not defined in lifeboat.yaml`, {
      hint: `Defined targets: ${[...config.targets.keys()].join(", ")}.`,
    });
  }
  return target;
}

/** Whether `host` has a repository on `targetName` yet; needs no password (and no restic call). */
export async function repositoryExists(
  config: LifeboatConfig,
  targetName: string,
  host: string,
): Promise<boolean> {
  return (await openBackend(targetOf(config, targetName), host)).exists();
}

export async function openRepository(options: OpenOptions): Promise<OpenedRepository> {
  const target = targetOf(options.config, options.targetName);
  const env = options.env ?? process.env;
  const onHost = options.onHost;
  const binary = onHost ? { path: onHost.binary, version: onHost.version } : await findRestic(env);
  const backend = await openBackend(target, options.host);
  const exists = await backend.exists();

  if (!exists && !options.create) {
    throw new LifeboatError(
      "REPOSITORY_MISSING",
      `host ${options.host} has no repository yet at ${backend.location}`,
      {
        hint: `Run \`lifeboat snapshot --host ${options.host}\` to create it with the first snapshot.`,
      },
    );
  }
  let keyGenerated = false;
  if (!exists && target.password.kind === "file" && !existsSync(target.password.path)) {
    // Only ever for a brand-new repository: a new key for an existing one would lock its data away.
    await generateKeyFile(target.password.path);
    keyGenerated = true;
  }
  const password = await resolvePassword(target.password, env);
  let globalArgs = backend.resticArgs;
  if (onHost && backend.caFile) {
    globalArgs = backend.resticArgsWithCa(await onHost.put("ca.pem", await readFile(backend.caFile), 0o644));
  }
  const repo = new ResticRepository({
    binary: binary.path,
    repository: backend.location,
    globalArgs,
    // A key file is on this machine; a restic elsewhere gets the password itself, in its environment.
    secretEnv: { ...backend.secretEnv, ...(onHost ? { RESTIC_PASSWORD: password.secret } : password.env) },
    transport: onHost?.transport,
    secrets: [password.secret, ...backend.secrets],
    passwordFrom:
      target.password.kind === "file"
        ? `key file ${target.password.path}`
        : `environment variable ${target.password.variable}`,
    logger: options.logger,
    signal: options.signal,
    baseEnv: env,
    storageProbe: backend.probe,
  });
  const opened = { repo, target, location: backend.location, resticVersion: binary.version };
  const proof = {
    stateDir: options.config.stateDir,
    target: target.name,
    host: options.host,
    location: backend.location,
    hash: target.password.kind === "file" ? ("sha256" as const) : ("scrypt" as const),
  };
  if (exists) {
    // The password that last opened it needs no restic call (its key derivation is the cost).
    if (options.prove && !(await isProven(proof, password.secret))) {
      await repo.openConfig();
      await markProven(proof, password.secret).catch(() => {}); // without it, the next run proves it again
    }
    return opened;
  }
  await repo.init();
  // Proof that the repository opens with this key: a second controller's init at the same moment would have
  // written another config, and nothing may be saved into a repository that cannot be read back.
  await repo.openConfig();
  await markProven(proof, password.secret).catch(() => {});
  options.logger?.info({ repository: backend.location }, "created repository");
  // Reported by whichever run creates the repository, even if an interrupted earlier run made the key.
  const keyFile = target.password.kind === "file" ? target.password.path : undefined;
  return { ...opened, created: { keyFile, keyGenerated } };
}

/** A policy's repository on its target: the common case of openRepository. */
export function openPolicyRepository(
  config: LifeboatConfig,
  policy: { host: string; repository: string },
  options: {
    create?: boolean;
    logger?: Logger | undefined;
    signal?: AbortSignal | undefined;
    onHost?: HostRestic | undefined;
    prove?: boolean;
  } = {},
): Promise<OpenedRepository> {
  return openRepository({ config, targetName: policy.repository, host: policy.host, ...options });
}
