// bench/s3-throughput: snapshot and restore of ~1 GB through Lifeboat against raw restic, side by side on
// the same S3 server (s3rver over HTTPS on loopback), alternating ABBA. Prints medians and ratios.
//   npm run bench:s3-throughput     (BENCH_DIR, BENCH_FILES, BENCH_FILE_KIB, BENCH_PAIRS)
import { type ChildProcess, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { median, startBenchS3, timed, writeBenchData } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-s3";
const files = Number(process.env.BENCH_FILES ?? 10_000);
const fileKib = Number(process.env.BENCH_FILE_KIB ?? 100);
const pairs = Number(process.env.BENCH_PAIRS ?? 3);
const node = path.join(root, "node_modules", ".bin", "node");
const data = path.join(dir, "data", "uploads");
const keyFile = path.join(dir, "key");
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(24).toString("base64url");
const bucket = "lifeboat-test";

async function startServer(): Promise<{ child: ChildProcess; endpoint: string; ca: string }> {
  const { child, port, ca } = await startBenchS3(path.join(dir, "s3"), { accessKey, secretKey, bucket });
  return { child, endpoint: `https://127.0.0.1:${port}`, ca };
}

writeBenchData(data, files, fileKib);
if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
const server = await startServer();
const awsEnv = {
  AWS_ACCESS_KEY_ID: accessKey,
  AWS_SECRET_ACCESS_KEY: secretKey,
  AWS_EC2_METADATA_DISABLED: "true",
};
const s3Args = ["-o", "s3.region=us-east-1", "-o", "s3.bucket-lookup=path", "--cacert", server.ca];
const repoUrl = (prefix: string) => `s3:${server.endpoint}/${bucket}/${prefix}/bench`;
const resticEnv = (prefix: string) => ({
  ...process.env,
  ...awsEnv,
  RESTIC_REPOSITORY: repoUrl(prefix),
  RESTIC_PASSWORD_FILE: keyFile,
});

function lifeboatEnv(prefix: string): NodeJS.ProcessEnv {
  const cfgDir = path.join(dir, "config", prefix);
  mkdirSync(path.join(cfgDir, "policies"), { recursive: true });
  writeFileSync(
    path.join(cfgDir, "lifeboat.yaml"),
    `targets:\n  s3:\n    type: s3\n    endpoint: ${server.endpoint}\n    bucket: ${bucket}\n    prefix: ${prefix}\n    pathStyle: true\n    caFile: ${server.ca}\n    passwordFile: ${keyFile}\n`,
  );
  writeFileSync(path.join(cfgDir, "policies", "bench.yaml"), `host: bench\nirreplaceable: [${data}]\n`);
  return {
    ...process.env,
    ...awsEnv,
    LIFEBOAT_CONFIG: path.join(cfgDir, "lifeboat.yaml"),
    LIFEBOAT_HOME: path.join(dir, "home"),
  };
}
const lifeboat = (args: string[], env: NodeJS.ProcessEnv) =>
  timed(node, [path.join(root, "bin/lifeboat.js"), "--quiet", ...args], env);

try {
  // Snapshot: every run into a new, empty repository (init untimed), so both upload all the data.
  const snap = { lifeboat: [] as number[], restic: [] as number[] };
  for (let i = 0; i < pairs * 2; i++) {
    const which = i % 4 === 0 || i % 4 === 3 ? "lifeboat" : "restic";
    const prefix = `${which}-${i}`;
    spawnSync("restic", ["init", ...s3Args], { env: resticEnv(prefix), stdio: "ignore" });
    // Dirty pages of earlier runs must not be written back during this one: that was ±25% of noise.
    spawnSync("sync");
    snap[which].push(
      which === "lifeboat"
        ? lifeboat(["snapshot", "--host", "bench", "--no-prune"], lifeboatEnv(prefix))
        : timed(
            "restic",
            ["backup", "-q", ...s3Args, "--host", "bench", "--tag", "lifeboat,host:bench", data],
            resticEnv(prefix),
          ),
    );
    // Keep the server's store small and steady: only the first Lifeboat repository is needed later.
    if (prefix !== "lifeboat-0")
      rmSync(path.join(dir, "s3", "data", bucket, prefix), { recursive: true, force: true });
    process.stderr.write(".");
  }
  // Restore: the same snapshot each time, into an empty directory.
  const source = "lifeboat-0";
  const restore = { lifeboat: [] as number[], resticVerify: [] as number[], restic: [] as number[] };
  const order = ["lifeboat", "resticVerify", "restic"] as const;
  for (let i = 0; i < pairs; i++) {
    for (const which of i % 2 === 0 ? order : [...order].reverse()) {
      const target = path.join(dir, "restored");
      rmSync(target, { recursive: true, force: true });
      spawnSync("sync");
      restore[which].push(
        which === "lifeboat"
          ? lifeboat(["restore", "--host", "bench", "--target", target], lifeboatEnv(source))
          : timed(
              "restic",
              [
                "restore",
                "-q",
                ...s3Args,
                "latest",
                "--target",
                target,
                ...(which === "resticVerify" ? ["--verify"] : []),
              ],
              resticEnv(source),
            ),
      );
      process.stderr.write(".");
    }
  }
  process.stderr.write("\n");
  const gib = (files * fileKib) / 1024 / 1024;
  const restic = spawnSync("restic", ["version"]).stdout.toString().trim();
  console.log(
    `s3-throughput: ${gib.toFixed(2)} GiB in ${files} files; ${restic}; s3rver over HTTPS on loopback; ${pairs} runs each`,
  );
  console.log("operation                          lifeboat   restic     ratio");
  const row = (name: string, l: number[], r: number[]) =>
    console.log(
      `${name.padEnd(34)} ${median(l).toFixed(2).padStart(7)}s ${median(r).toFixed(2).padStart(7)}s   ${(median(l) / median(r)).toFixed(3)}`,
    );
  row("snapshot (backup)", snap.lifeboat, snap.restic);
  row("restore, restic also --verify", restore.lifeboat, restore.resticVerify);
  row("restore, restic without --verify", restore.lifeboat, restore.restic);
  const mbps = (secs: number) => ((gib * 1024) / secs).toFixed(0);
  console.log(
    `throughput through Lifeboat: snapshot ${mbps(median(snap.lifeboat))} MiB/s, restore ${mbps(median(restore.lifeboat))} MiB/s`,
  );
} finally {
  server.child.kill("SIGTERM");
}
