// Starts the S3 test server (server.cjs) as a child process and returns how to reach it.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { execa, type ResultPromise } from "execa";
import { outputTail, waitUntilReady } from "../ready.js";

export interface S3ServerInfo {
  endpoint: string;
  /** The same server as container hosts reach it: this machine's address (in the certificate too). */
  fleetEndpoint: string;
  port: number;
  caFile: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  dir: string;
}

export interface RunningS3Server extends S3ServerInfo {
  stop(): Promise<void>;
  /** Kills the server at once, as a crash or a network cut would look to a client. */
  kill(): void;
}

/**
 * Where containers reach this machine: its own address on its default route. Unlike the podman bridge
 * (10.88.0.1), it exists while no container runs, and containers on any network reach it.
 */
export const FLEET_GATEWAY = primaryAddress();

function primaryAddress(): string {
  const route = execFileSync("ip", ["-4", "route", "get", "1.1.1.1"], { encoding: "utf8" });
  const src = /\bsrc (\d+\.\d+\.\d+\.\d+)/.exec(route)?.[1];
  if (!src) throw new Error(`cannot tell this machine's address from: ${route}`);
  return src;
}

const SERVER = path.join(import.meta.dirname, "server.cjs");

export async function startS3Server(
  options: {
    dir?: string;
    port?: number;
    accessKeyId?: string;
    secretAccessKey?: string;
    /** "0.0.0.0" so that containers reach it too; the podman bridge exists only once a container runs. */
    address?: string;
    /** A file that gets a line per request the server answers (method and path), to count them. */
    requestLog?: string;
  } = {},
): Promise<RunningS3Server> {
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), "lifeboat-s3-")));
  const accessKeyId = options.accessKeyId ?? `AK${randomBytes(8).toString("hex").toUpperCase()}`;
  const secretAccessKey = options.secretAccessKey ?? randomBytes(24).toString("base64url");
  const bucket = "lifeboat-test";
  const child: ResultPromise = execa(process.execPath, [SERVER], {
    env: {
      ...process.env,
      S3_DIR: dir,
      S3_ACCESS_KEY: accessKeyId,
      S3_SECRET_KEY: secretAccessKey,
      S3_BUCKETS: bucket,
      S3_PORT: String(options.port ?? 0),
      S3_ADDRESS: options.address ?? "127.0.0.1",
      S3_CERT_IPS: FLEET_GATEWAY,
      ...(options.requestLog ? { S3_REQUEST_LOG: options.requestLog } : {}),
    },
    stdin: "ignore",
    reject: false,
    buffer: false,
  });
  const stdout = child.stdout;
  if (!stdout) throw new Error("no stdout from the S3 server");
  const output = outputTail([child.stderr]);
  let line: string | undefined;
  createInterface({ input: stdout }).once("line", (l) => {
    line = l;
  });
  await waitUntilReady({
    what: `the S3 test server (${SERVER})`,
    probe: async () => line !== undefined,
    exited: child,
    output,
    timeoutMs: 30_000,
    stop: () => child.kill("SIGKILL"),
  });
  // Its errors after start (a failed request) still reach the test's output.
  child.stderr?.pipe(process.stderr);
  const { port, ca } = JSON.parse(line ?? "") as { port: number; ca: string };
  return {
    endpoint: `https://127.0.0.1:${port}`,
    fleetEndpoint: `https://${FLEET_GATEWAY}:${port}`,
    port,
    caFile: ca,
    accessKeyId,
    secretAccessKey,
    bucket,
    dir,
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
    kill() {
      child.kill("SIGKILL");
    },
  };
}

/** The environment a CLI or SDK needs for these credentials (and no instance-metadata probing). */
export function s3Env(s3: S3ServerInfo): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

/** lifeboat.yaml for an s3 target on this server, under its own prefix. */
export function s3Config(s3: S3ServerInfo, prefix: string, extra = "", endpoint = s3.endpoint): string {
  return `targets:
  offsite:
    type: s3
    endpoint: ${endpoint}
    bucket: ${s3.bucket}
    prefix: ${prefix}
    pathStyle: true
    caFile: ${s3.caFile}
${extra}defaults:
  repository: offsite
`;
}
