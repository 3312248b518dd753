// Opens the restic repository of one host on its storage target, creating it on first use.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { LifeboatConfig, RestTargetConfig, TargetConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { HostCredentials } from "../policy/load.js";
import { findRestic } from "../restic/binary.js";
import { type CopySource, ResticRepository } from "../restic/engine.js";
import type { HostRestic } from "../restic/on-host.js";
import { openBackend } from "./backend.js";
import { ensureHostKey } from "./host-key.js";
import { generateKeyFile, resolvePassword } from "./password.js";
import { isProven, keyHint, markProven, type ProofKey } from "./proof.js";

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
  /** Make sure the host's own key opens it (added when missing), for a host whose restic runs there. */
  hostKey?: boolean;
  /** A new repository takes this one's chunker parameters: the copy of it that `replicate` keeps. */
  copyOf?: CopySource | undefined;
  /** S3 credentials of the host's own for its restic (onHost), instead of the controller's. */
  hostCredentials?: HostCredentials | undefined;
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
  const proof: ProofKey = {
    stateDir: options.config.stateDir,
    target: target.name,
    host: options.host,
    location: backend.location,
    hash: target.password.kind === "file" ? "sha256" : "scrypt",
  };
  const hint = await keyHint(proof);
  // The target's key opens every host's repository: it is used here, on the controller, and never leaves it.
  const admin = new ResticRepository({
    binary: onHost ? (await findRestic(env)).path : binary.path,
    repository: backend.location,
    globalArgs: backend.resticArgs,
    secretEnv: { ...backend.secretEnv, ...password.env, ...(hint ? { RESTIC_KEY_HINT: hint } : {}) },
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
  let created: OpenedRepository["created"];
  if (!exists) {
    await admin.init(options.copyOf);
    // Proof that the repository opens with this key: a second controller's init at the same moment would have
    // written another config, and nothing may be saved into a repository that cannot be read back.
    const keyId = (await admin.keys()).find((k) => k.current)?.id;
    await markProven(proof, password.secret, keyId).catch(() => {});
    options.logger?.info({ repository: backend.location }, "created repository");
    // Reported by whichever run creates the repository, even if an interrupted earlier run made the key.
    created = { keyFile: target.password.kind === "file" ? target.password.path : undefined, keyGenerated };
  } else if (options.prove && !onHost && !(await isProven(proof, password.secret))) {
    // The password that last opened it needs no restic call (its key derivation is the cost).
    const keyId = (await admin.keys()).find((k) => k.current)?.id;
    await markProven(proof, password.secret, keyId).catch(() => {}); // without it, the next run proves it again
  }
  const opened = { target, location: backend.location, resticVersion: binary.version, created };
  if (!onHost) {
    if (options.hostKey) {
      await ensureHostKey({ admin, proof, logger: options.logger });
      if (target.type === "rest")
        await (await import("./vault.js")).ensureVaultLogin(
          options.config.stateDir,
          target,
          options.host,
          options.logger,
        );
    }
    return { ...opened, repo: admin };
  }

  // A restic on the host gets the host's own key to this repository only (proven, or added with the target's).
  const hostKey = await ensureHostKey({ admin, proof, logger: options.logger });
  const way = backend.onHost;
  const caFile = way ? way.caFile : backend.caFile;
  const withCa = way ? way.resticArgsWithCa : backend.resticArgsWithCa;
  const globalArgs = caFile
    ? withCa(await onHost.put("ca.pem", await readFile(caFile), 0o644))
    : way
      ? way.resticArgsWithCa(undefined)
      : backend.resticArgs;
  // Into the vault with the host's own login; to S3 with the storage credentials.
  const access =
    target.type === "rest"
      ? await vaultAccess(options.config, target, options.host, options.logger)
      : target.type === "s3" && options.hostCredentials
        ? await hostS3Access(options.hostCredentials, env)
        : undefined;
  const repo = new ResticRepository({
    binary: binary.path,
    repository: way?.location ?? backend.location,
    globalArgs,
    secretEnv: {
      ...(access?.env ?? backend.secretEnv),
      RESTIC_PASSWORD: hostKey.secret,
      RESTIC_KEY_HINT: hostKey.keyId,
    },
    transport: onHost.transport,
    secrets: [hostKey.secret, password.secret, ...backend.secrets, ...(access?.secrets ?? [])],
    passwordFrom: `host key file ${hostKey.file}`,
    logger: options.logger,
    signal: options.signal,
    baseEnv: env,
    storageProbe: way?.probe ?? backend.probe,
  });
  return { ...opened, repo };
}

/** The host's own S3 key, read on the controller from the variables (or the profile) its policy names. */
async function hostS3Access(
  spec: HostCredentials,
  env: NodeJS.ProcessEnv,
): Promise<{ env: Record<string, string>; secrets: string[] }> {
  let creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined };
  if ("profile" in spec) {
    const { defaultProvider } = await import("@aws-sdk/credential-provider-node");
    try {
      creds = await defaultProvider({ profile: spec.profile, ignoreCache: true })();
    } catch (err) {
      throw new LifeboatError(
        "CREDENTIALS_MISSING",
        `the AWS profile ${spec.profile} gives no credentials: ${(err as Error).message}`,
        { hint: "Define it in ~/.aws/credentials (or config) of the user Lifeboat runs as." },
      );
    }
  } else {
    const missing = [spec.accessKeyIdEnv, spec.secretAccessKeyEnv].filter((v) => !env[v]);
    if (missing.length > 0)
      throw new LifeboatError(
        "CREDENTIALS_MISSING",
        `the host's S3 credentials are not set: ${missing.join(", ")}`,
        {
          hint: "Export them for Lifeboat (the daemon's environment file), or remove credentials from the policy.",
        },
      );
    creds = {
      accessKeyId: env[spec.accessKeyIdEnv] ?? "",
      secretAccessKey: env[spec.secretAccessKeyEnv] ?? "",
      sessionToken: spec.sessionTokenEnv ? env[spec.sessionTokenEnv] : undefined,
    };
  }
  return {
    env: {
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      ...(creds.sessionToken ? { AWS_SESSION_TOKEN: creds.sessionToken } : {}),
    },
    secrets: [creds.secretAccessKey, ...(creds.sessionToken ? [creds.sessionToken] : [])],
  };
}

/** The host's vault login, made (and awaited until the server knows it) on first use. */
async function vaultAccess(
  config: LifeboatConfig,
  target: RestTargetConfig,
  host: string,
  logger: Logger | undefined,
): Promise<{ env: Record<string, string>; secrets: string[] }> {
  const { awaitVaultLogin, ensureVaultLogin } = await import("./vault.js");
  const login = await ensureVaultLogin(config.stateDir, target, host, logger);
  // One request when the server knows the login already; up to half a minute after it was just made.
  await awaitVaultLogin(target, login);
  return {
    env: { RESTIC_REST_USERNAME: login.user, RESTIC_REST_PASSWORD: login.password },
    secrets: [login.password],
  };
}

/** A policy's repository on its target: the common case of openRepository. */
export function openPolicyRepository(
  config: LifeboatConfig,
  policy: { host: string; repository: string; credentials?: HostCredentials | undefined },
  options: {
    create?: boolean;
    logger?: Logger | undefined;
    signal?: AbortSignal | undefined;
    onHost?: HostRestic | undefined;
    prove?: boolean;
  } = {},
): Promise<OpenedRepository> {
  return openRepository({
    config,
    targetName: policy.repository,
    host: policy.host,
    hostCredentials: policy.credentials,
    ...options,
  });
}
