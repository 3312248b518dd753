// Where a host's repository lives on its target, how restic reaches it, and whether it exists yet.
import { existsSync } from "node:fs";
import path from "node:path";
import type { TargetConfig } from "../config/load.js";
import type { StorageProbe } from "../restic/process.js";
import { s3Location, s3ResticArgs } from "./s3-location.js";

export interface RepositoryBackend {
  /** RESTIC_REPOSITORY. */
  location: string;
  /** restic options for this backend (never secrets). */
  resticArgs: string[];
  /** A CA certificate restic must trust: a restic on another host needs its own copy. */
  caFile: string | undefined;
  /** resticArgs for a restic that finds the CA certificate at `caFile`. */
  resticArgsWithCa(caFile: string): string[];
  /** Credentials for restic's environment. */
  secretEnv: Record<string, string>;
  secrets: string[];
  /** Whether the repository has been initialised; needs no repository password. */
  exists(): Promise<boolean>;
  /** For remote storage: the watch that bounds an outage during a restic run. */
  probe?: StorageProbe;
  /** How a restic on a host reaches this repository, when not the controller's way (the vault's REST URL). */
  onHost?: {
    location: string;
    caFile: string | undefined;
    resticArgsWithCa(caFile: string | undefined): string[];
    probe: StorageProbe;
  };
}

export async function openBackend(target: TargetConfig, host: string): Promise<RepositoryBackend> {
  if (target.type === "local") return directoryBackend(target.path, host);
  if (target.type === "rest") {
    // The controller reads the vault's directory itself; only hosts go through the append-only server.
    const { probeVault, vaultRepositoryUrl } = await import("./vault.js");
    return {
      ...directoryBackend(target.path, host),
      onHost: {
        location: vaultRepositoryUrl(target, host),
        caFile: target.caFile,
        resticArgsWithCa: (caFile) => (caFile ? ["--cacert", caFile] : []),
        probe: outageProbe(() => probeVault(target), target.outageTimeoutSeconds),
      },
    };
  }
  // The AWS SDK is loaded only when an S3 target is used: it doubles the start-up of every other command.
  const { openS3, probeBucket, s3ObjectExists } = await import("./s3.js");
  const access = await openS3(target);
  // Resolved for this run: an instance role's or SSO's keys expire, and a daemon runs for months.
  const { accessKeyId, secretAccessKey, sessionToken } = await access.renewCredentials();
  return {
    location: s3Location(target, host),
    resticArgs: s3ResticArgs(target),
    caFile: target.caFile,
    resticArgsWithCa: (caFile) => s3ResticArgs(target, caFile),
    secretEnv: {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      ...(sessionToken ? { AWS_SESSION_TOKEN: sessionToken } : {}),
    },
    secrets: [secretAccessKey, ...(sessionToken ? [sessionToken] : [])],
    exists: () => s3ObjectExists(access, target, `${host}/config`),
    probe: outageProbe(() => probeBucket(access, target), target.outageTimeoutSeconds),
  };
}

/** A repository in a directory of this machine: no credentials, existence is its config file. */
function directoryBackend(dir: string, host: string): RepositoryBackend {
  const location = path.join(dir, host);
  return {
    location,
    resticArgs: [],
    caFile: undefined,
    resticArgsWithCa: () => [],
    secretEnv: {},
    secrets: [],
    exists: async () => existsSync(path.join(location, "config")),
  };
}

/** The watch over remote storage during a run, bounded by the target's outageTimeout. */
function outageProbe(check: () => Promise<void>, outageTimeoutSeconds: number): StorageProbe {
  return {
    check,
    // A tenth of the bound (at most 5 s): an outage is noticed within that of its start.
    intervalMs: Math.min(5_000, outageTimeoutSeconds * 100),
    giveUpAfterMs: outageTimeoutSeconds * 1000,
  };
}
