// Shared by the benchmarks: the data set and the statistic.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

const root = path.resolve(import.meta.dirname, "..");
export const benchNode = path.join(root, "node_modules", ".bin", "node");

export interface BenchS3 {
  child: ChildProcess;
  port: number;
  ca: string;
}

/** The test S3 server (s3rver over HTTPS) with an empty store under `s3dir`, on `address`. */
export async function startBenchS3(
  s3dir: string,
  credentials: { accessKey: string; secretKey: string; bucket: string },
  address = "127.0.0.1",
  options: { keepData?: boolean; requestLog?: string } = {},
): Promise<BenchS3> {
  if (!options.keepData) rmSync(path.join(s3dir, "data"), { recursive: true, force: true });
  const child = spawn(benchNode, [path.join(root, "test/helpers/s3/server.cjs")], {
    env: {
      ...process.env,
      S3_DIR: s3dir,
      S3_ACCESS_KEY: credentials.accessKey,
      S3_SECRET_KEY: credentials.secretKey,
      S3_BUCKETS: credentials.bucket,
      S3_ADDRESS: address,
      ...(options.requestLog ? { S3_REQUEST_LOG: options.requestLog } : {}),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", resolve),
  );
  const { port, ca } = JSON.parse(line) as { port: number; ca: string };
  return { child, port, ca };
}

/** Seconds one command takes; throws with its stderr when it fails. */
export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return seconds;
}

/** `files` files of `fileKib` KiB of random bytes in 100 directories under `data`; kept between runs. */
export function writeBenchData(data: string, files: number, fileKib: number): void {
  const marker = path.join(path.dirname(data), `.ready-${files}x${fileKib}k`);
  if (existsSync(marker)) return;
  rmSync(path.dirname(data), { recursive: true, force: true });
  process.stderr.write(`writing ${files} files of ${fileKib} KiB into ${data} ...\n`);
  for (let i = 0; i < files; i++) {
    const sub = path.join(data, String(i % 100).padStart(2, "0"));
    if (i < 100) mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `${i}.bin`), randomBytes(fileKib * 1024));
  }
  writeFileSync(marker, "");
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The environment of a Lifeboat run in a benchmark: its own state, config and S3 credentials. */
export function benchEnv(
  dir: string,
  credentials: { accessKey: string; secretKey: string },
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LIFEBOAT_HOME: path.join(dir, "home"),
    LIFEBOAT_CONFIG: path.join(dir, "lifeboat.yaml"),
    AWS_ACCESS_KEY_ID: credentials.accessKey,
    AWS_SECRET_ACCESS_KEY: credentials.secretKey,
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

/** `podman exec` of the restic copied to /opt/restic in `container`, with restic's secrets passed by name. */
export function resticInContainer(container: string, variables: string[]): string[] {
  return ["exec", ...variables.flatMap((v) => ["-e", v]), container, "/opt/restic"];
}
