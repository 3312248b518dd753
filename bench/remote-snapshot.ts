// bench/remote-snapshot: a snapshot of a container host through Lifeboat (container transport, restic run in
// the container: bookworm's 0.14 is too old, so Lifeboat copies its own restic for every run) against raw
// `podman exec` of the same restic 0.18 already in the container, into the same S3 server, alternating ABBA.
//   npm run bench:remote-snapshot     (BENCH_DIR, BENCH_FILES, BENCH_FILE_KIB, BENCH_PAIRS, BENCH_HOST_RESTIC=1
//   to give the host restic 0.18 of its own, so that Lifeboat uses it and copies nothing)
// Needs the test fleet's image (npm test builds it) and podman.
import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { median, resticInContainer, startBenchS3, timed } from "./lib.ts";

const RESTIC_VARIABLES = [
  "RESTIC_REPOSITORY",
  "RESTIC_PASSWORD",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
];

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-remote";
const files = Number(process.env.BENCH_FILES ?? 2000);
const fileKib = Number(process.env.BENCH_FILE_KIB ?? 100);
const pairs = Number(process.env.BENCH_PAIRS ?? 3);
const node = path.join(root, "node_modules", ".bin", "node");
const image = "lifeboat-test-base:bookworm-3";
const container = "lifeboat-bench-remote";
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(24).toString("base64url");
const password = randomBytes(32).toString("base64url");
const bucket = "lifeboat-test";
const hostRestic = process.env.BENCH_HOST_RESTIC === "1";

if (spawnSync("podman", ["image", "exists", image]).status !== 0) {
  console.error(
    `podman image ${image} is missing: run \`npm test\` once (its setup builds the test fleet's image).`,
  );
  process.exit(2);
}

async function startServer(): Promise<{ child: ChildProcess; endpoint: string; ca: string }> {
  const { child, port, ca } = await startBenchS3(
    path.join(dir, "s3"),
    { accessKey, secretKey, bucket },
    "0.0.0.0",
  );
  return { child, endpoint: `https://10.88.0.1:${port}`, ca };
}

const podman = (...args: string[]) => execFileSync("podman", args, { stdio: ["ignore", "pipe", "inherit"] });
spawnSync("podman", ["rm", "-f", "--time", "0", container], { stdio: "ignore" });
podman(
  ...["run", "-d", "--name", container, "--runtime", "runc", "--ulimit", "nofile=1024:1024"],
  ...["--ulimit", "nproc=1024:1024", image, "sleep", "infinity"],
);
const server = await startServer();
try {
  process.stderr.write(`writing ${files} files of ${fileKib} KiB into the container ...\n`);
  podman(
    "exec",
    container,
    "sh",
    "-c",
    `for i in $(seq 0 ${files - 1}); do d=/srv/data/$((i % 100)); mkdir -p $d; head -c ${fileKib * 1024} /dev/urandom > $d/$i.bin; done`,
  );
  const resticPath = execFileSync("sh", ["-c", "command -v restic"]).toString().trim();
  podman("cp", resticPath, `${container}:/opt/restic`);
  // BENCH_HOST_RESTIC=1: the host has a recent restic of its own, so Lifeboat copies nothing.
  if (hostRestic) podman("cp", resticPath, `${container}:/usr/local/bin/restic`);
  podman("cp", server.ca, `${container}:/opt/ca.pem`);
  const s3Args = ["-o", "s3.region=us-east-1", "-o", "s3.bucket-lookup=path", "--cacert", "/opt/ca.pem"];
  const awsEnv = {
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_EC2_METADATA_DISABLED: "true",
  };
  const rawEnv = (prefix: string) => ({
    ...process.env,
    ...awsEnv,
    RESTIC_REPOSITORY: `s3:${server.endpoint}/${bucket}/${prefix}/bench`,
    RESTIC_PASSWORD: password,
  });
  const raw = (prefix: string, args: string[]) =>
    timed("podman", [...resticInContainer(container, RESTIC_VARIABLES), ...args, ...s3Args], rawEnv(prefix));
  const keyFile = path.join(dir, "key");
  writeFileSync(keyFile, password, { mode: 0o600 });
  const lifeboatEnv = (prefix: string): NodeJS.ProcessEnv => {
    const cfgDir = path.join(dir, "config", prefix);
    mkdirSync(path.join(cfgDir, "policies"), { recursive: true });
    writeFileSync(
      path.join(cfgDir, "lifeboat.yaml"),
      `targets:\n  s3:\n    type: s3\n    endpoint: ${server.endpoint}\n    bucket: ${bucket}\n    prefix: ${prefix}\n    pathStyle: true\n    caFile: ${server.ca}\n    passwordFile: ${keyFile}\n`,
    );
    writeFileSync(
      path.join(cfgDir, "policies", "bench.yaml"),
      `host: bench\ntransport: { container: ${container} }\nirreplaceable: [/srv/data]\n`,
    );
    return {
      ...process.env,
      ...awsEnv,
      LIFEBOAT_CONFIG: path.join(cfgDir, "lifeboat.yaml"),
      LIFEBOAT_HOME: path.join(dir, "home"),
    };
  };
  const lifeboat = (prefix: string) =>
    timed(
      node,
      [path.join(root, "bin/lifeboat.js"), "--quiet", "snapshot", "--host", "bench", "--no-prune"],
      lifeboatEnv(prefix),
    );

  // Each run: a new repository (init untimed), a full snapshot, then one of unchanged data.
  const full = { lifeboat: [] as number[], restic: [] as number[] };
  const again = { lifeboat: [] as number[], restic: [] as number[] };
  for (let i = 0; i < pairs * 2; i++) {
    const which = i % 4 === 0 || i % 4 === 3 ? "lifeboat" : "restic";
    const prefix = `${which}-${i}`;
    spawnSync("podman", [...resticInContainer(container, RESTIC_VARIABLES), "init", ...s3Args], {
      env: rawEnv(prefix),
      stdio: "ignore",
    });
    spawnSync("sync");
    for (const bucketOf of [full, again]) {
      bucketOf[which].push(
        which === "lifeboat"
          ? lifeboat(prefix)
          : raw(prefix, ["backup", "-q", "--host", "bench", "--tag", "lifeboat,host:bench", "/srv/data"]),
      );
    }
    rmSync(path.join(dir, "s3", "data", bucket, prefix), { recursive: true, force: true });
    process.stderr.write(".");
  }
  process.stderr.write("\n");
  const mib = (files * fileKib) / 1024;
  const restic = spawnSync("restic", ["version"]).stdout.toString().trim();
  console.log(
    `remote-snapshot: ${mib.toFixed(0)} MiB in ${files} files in a podman container; ${restic}; s3rver over HTTPS at the podman bridge; ${pairs} runs each; ${hostRestic ? "the host has restic 0.18 (nothing copied)" : "the host has restic 0.14 (Lifeboat copies its own each run)"}`,
  );
  console.log("snapshot of a container host          lifeboat   restic     ratio   difference");
  const row = (name: string, l: number[], r: number[]) =>
    console.log(
      `${name.padEnd(37)} ${median(l).toFixed(2).padStart(7)}s ${median(r).toFixed(2).padStart(7)}s   ${(median(l) / median(r)).toFixed(3)}   ${(median(l) - median(r)).toFixed(2)}s`,
    );
  row("full (new repository)", full.lifeboat, full.restic);
  row("unchanged data", again.lifeboat, again.restic);
} finally {
  server.child.kill("SIGTERM");
  spawnSync("podman", ["rm", "-f", "--time", "0", container], { stdio: "ignore" });
}
