// Opens the restic repository of one host on its storage target, creating it on first use.
import { existsSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import type { LifeboatConfig, TargetConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { findRestic } from "../restic/binary.js";
import { ResticRepository } from "../restic/engine.js";
import { generateKeyFile, resolvePassword } from "./password.js";

export interface OpenedRepository {
  repo: ResticRepository;
  target: TargetConfig;
  /** Where the repository lives (a directory for local targets). */
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
}

export function repositoryLocation(target: TargetConfig, host: string): string {
  return path.join(target.path, host);
}

export async function openRepository(options: OpenOptions): Promise<OpenedRepository> {
  const target = options.config.targets.get(options.targetName);
  if (!target) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `storage target "${options.targetName}" is not defined in lifeboat.yaml`,
      {
        hint: `Defined targets: ${[...options.config.targets.keys()].join(", ")}.`,
      },
    );
  }
  const env = options.env ?? process.env;
  const binary = await findRestic(env);
  const location = repositoryLocation(target, options.host);
  const exists = existsSync(path.join(location, "config"));

  if (!exists && !options.create) {
    throw new LifeboatError(
      "REPOSITORY_MISSING",
      `host ${options.host} has no repository yet at ${location}`,
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
  const repo = new ResticRepository({
    binary: binary.path,
    repository: location,
    secretEnv: password.env,
    secrets: [password.secret],
    logger: options.logger,
    signal: options.signal,
    baseEnv: env,
  });
  if (exists) return { repo, target, location, resticVersion: binary.version };
  await repo.init();
  options.logger?.info({ repository: location }, "created repository");
  // Reported by whichever run creates the repository, even if an interrupted earlier run made the key.
  const keyFile = target.password.kind === "file" ? target.password.path : undefined;
  return { repo, target, location, resticVersion: binary.version, created: { keyFile, keyGenerated } };
}
