// S3 targets: the SDK client, credentials from the standard AWS chain, and a preflight that turns a wrong
// key, a missing bucket or a dead endpoint into a clear error in seconds (restic would retry for minutes).
import { readFileSync } from "node:fs";
import https from "node:https";
import { HeadBucketCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { S3TargetConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { endpointOf } from "./s3-location.js";

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface S3Access {
  client: S3Client;
  /**
   * Resolves the credentials again through the standard chain (env, files, SSO, instance role) and makes the
   * client use them too: once per run, so a daemon never hands restic keys that expired hours ago.
   */
  renewCredentials(): Promise<S3Credentials>;
}

/** Credentials as the SDK's providers give them (with an expiry when they have one). */
type AwsCredentialIdentity = Awaited<ReturnType<S3Client["config"]["credentials"]>>;

/** Our provider's answers expire this soon: inside the SDK's refresh window, so every request asks it again. */
const ASK_AGAIN_MS = 60_000;

/** Seconds to wait for a connection and for a response before calling the endpoint unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

function describe(target: S3TargetConfig): string {
  return `s3://${target.bucket}/${target.prefix} at ${endpointOf(target)}`;
}

export function createS3Client(
  target: S3TargetConfig,
  credentials?: () => Promise<AwsCredentialIdentity>,
): S3Client {
  let ca: Buffer | undefined;
  if (target.caFile) {
    try {
      ca = readFileSync(target.caFile);
    } catch (err) {
      throw new LifeboatError(
        "CONFIG_INVALID",
        `target ${target.name}: cannot read caFile ${target.caFile}`,
        {
          hint: "Point caFile at the PEM certificate of the CA that signed the endpoint's certificate.",
          cause: err,
        },
      );
    }
  }
  return new S3Client({
    ...(credentials ? { credentials } : {}),
    region: target.region,
    endpoint: target.endpoint,
    forcePathStyle: target.pathStyle,
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: CONNECT_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      httpsAgent: new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}) }),
    }),
  });
}

/** The typed error for an SDK failure against `target`. */
export function storageError(err: unknown, target: S3TargetConfig, action: string): LifeboatError {
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  const where = describe(target);
  const code = e.code ?? (e as { cause?: { code?: string } }).cause?.code ?? "";
  if (e.name === "CredentialsProviderError") {
    return new LifeboatError("CREDENTIALS_MISSING", `no AWS credentials found for target ${target.name}`, {
      hint: "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an instance role applies.",
      cause: err,
    });
  }
  if (status === 404 || e.name === "NotFound" || e.name === "NoSuchBucket") {
    return new LifeboatError("BUCKET_MISSING", `bucket ${target.bucket} does not exist (${where})`, {
      hint: "Create the bucket (Lifeboat does not create buckets), or fix bucket/endpoint in lifeboat.yaml.",
      cause: err,
    });
  }
  if (
    status === 403 ||
    status === 401 ||
    /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|Forbidden/.test(e.name ?? "")
  ) {
    return new LifeboatError("STORAGE_ACCESS_DENIED", `access denied to ${where} while trying to ${action}`, {
      hint: "Check the AWS credentials (key id and secret, or profile) and the bucket policy; they must allow list, read, write and delete under the prefix.",
      cause: err,
    });
  }
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return new LifeboatError(
      "STORAGE_TLS",
      `the certificate of ${endpointOf(target)} is not trusted (${code})`,
      {
        hint: "For a private endpoint, set caFile in lifeboat.yaml to the CA certificate (PEM) that signed it.",
        cause: err,
      },
    );
  }
  return new LifeboatError(
    "STORAGE_UNREACHABLE",
    `cannot reach ${where} to ${action}: ${code || e.name || e.message || "unknown error"}`,
    {
      hint: "Check the endpoint URL, DNS, firewall and that the service is up; `lifeboat doctor` runs every check.",
      cause: err,
    },
  );
}

const opened = new Map<string, Promise<S3Access>>();

/**
 * Resolves credentials through the standard chain and checks the bucket answers, within seconds; once per
 * target and process (a failure is not remembered, so a retry tries again).
 */
export function openS3(target: S3TargetConfig): Promise<S3Access> {
  const cacheKey = JSON.stringify(target);
  let access = opened.get(cacheKey);
  if (!access) {
    access = connect(target);
    opened.set(cacheKey, access);
    access.catch(() => opened.delete(cacheKey));
  }
  return access;
}

/** The standard chain, read afresh: the environment, the files (not the SDK's cached copy), SSO, a role. */
async function resolveChain(target: S3TargetConfig): Promise<AwsCredentialIdentity> {
  try {
    return await defaultProvider({ ignoreCache: true })();
  } catch (err) {
    throw storageError(err, target, "load credentials");
  }
}

async function connect(target: S3TargetConfig): Promise<S3Access> {
  let current = await resolveChain(target);
  const renew = async () => {
    current = await resolveChain(target);
    return current;
  };
  // The SDK memoizes a provider's answer until shortly before it expires; ours always "expires" within a
  // minute, so every request asks again and gets what the last renewal found (each run renews; so does a
  // request refused for its keys, see withRenewal). Near a real expiry (a role's keys) the chain is read again.
  const client = createS3Client(target, async () => {
    if (current.expiration && current.expiration.getTime() - Date.now() < 5 * 60_000) await renew();
    return {
      ...current,
      expiration: new Date(Math.min(current.expiration?.getTime() ?? Infinity, Date.now() + ASK_AGAIN_MS)),
    };
  });
  const access: S3Access = {
    client,
    async renewCredentials() {
      await renew();
      return {
        accessKeyId: current.accessKeyId,
        secretAccessKey: current.secretAccessKey,
        sessionToken: current.sessionToken,
      };
    },
  };
  await probeBucket(access, target);
  return access;
}

/**
 * Runs a request; one refused for its keys (401/403) is tried once more with the chain read again: keys rotated
 * under a running daemon are picked up by the catalog's requests as well as by the next run.
 */
export async function withRenewal<T>(
  access: S3Access,
  request: (client: S3Client) => Promise<T>,
): Promise<T> {
  try {
    return await request(access.client);
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 401 && status !== 403) throw err;
    await access.renewCredentials();
    return request(access.client);
  }
}

export async function s3ObjectExists(
  access: S3Access,
  target: S3TargetConfig,
  key: string,
): Promise<boolean> {
  try {
    await withRenewal(access, (client) =>
      client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: `${target.prefix}/${key}` })),
    );
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw storageError(err, target, `look for ${key}`);
  }
}

/** One HeadBucket: resolves when the bucket answers. */
export async function probeBucket(access: S3Access, target: S3TargetConfig): Promise<void> {
  try {
    await withRenewal(access, (client) => client.send(new HeadBucketCommand({ Bucket: target.bucket })));
  } catch (err) {
    throw storageError(err, target, "reach the bucket");
  }
}
