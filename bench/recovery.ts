// bench/recovery: the RTO of web1 (the example runbook, as drills into fresh containers) broken down by phase,
// next to raw restic restoring the same snapshot into a fresh container of the same image with `podman exec`
// (restic already inside, no Lifeboat): the floor for the restore phase.
//   npm run bench:recovery     (BENCH_DIR, BENCH_FILES, BENCH_FILE_KIB, BENCH_RUNS)
// Needs the test fleet's services image (npm test builds it: nginx is preinstalled there, so the runbook's
// apt step only checks) and podman.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { benchEnv, median, resticInContainer, startBenchS3, timed } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-recovery";
const files = Number(process.env.BENCH_FILES ?? 2000);
const fileKib = Number(process.env.BENCH_FILE_KIB ?? 100);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const image = "lifeboat-test-db:bookworm-4";
const production = "lifeboat-bench-web1";
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(24).toString("base64url");
const bucket = "lifeboat-test";
const RUN = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

if (spawnSync("podman", ["image", "exists", image]).status !== 0) {
  console.error(`podman image ${image} is missing: run \`npm test\` once (its setup builds it).`);
  process.exit(2);
}
const podman = (...args: string[]) =>
  execFileSync("podman", args, { stdio: ["ignore", "pipe", "inherit"] }).toString();
const address = /\bsrc (\S+)/.exec(execFileSync("ip", ["-4", "route", "get", "1.1.1.1"]).toString())?.[1];
if (!address) throw new Error("cannot tell this machine's address");

rmSync(dir, { recursive: true, force: true });
mkdirSync(path.join(dir, "policies"), { recursive: true });
// Containers reach the S3 server at this machine's address; its certificate names it.
process.env.S3_CERT_IPS = address;
const server = await startBenchS3(path.join(dir, "s3"), { accessKey, secretKey, bucket }, "0.0.0.0");
const endpoint = `https://${address}:${server.port}`;
const env = benchEnv(dir, { accessKey, secretKey });
const configFile = path.join(dir, "lifeboat.yaml");
const home = path.join(dir, "home");
const lifeboat = (...args: string[]) =>
  execFileSync(path.join(root, "bin/lifeboat.js"), args, {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  }).toString();

try {
  writeFileSync(
    configFile,
    `targets:\n  offsite: { type: s3, endpoint: "${endpoint}", bucket: ${bucket}, pathStyle: true, caFile: ${server.ca} }\ndefaults:\n  repository: offsite\n`,
  );
  writeFileSync(
    path.join(dir, "policies/web1.yaml"),
    readFileSync(path.join(root, "policies/web1.yaml"), "utf8")
      .replace("transport: { container: web1 }", `transport: { container: ${production} }`)
      .replace("repository: offsite\n", ""),
  );
  cpSync(path.join(root, "runbooks"), path.join(dir, "runbooks"), { recursive: true });
  writeFileSync(
    path.join(dir, "runbooks/web1.yaml"),
    readFileSync(path.join(root, "runbooks/web1.yaml"), "utf8").replace(
      "image: localhost/lifeboat-base:bookworm",
      `image: localhost/${image}`,
    ),
  );

  spawnSync("podman", ["rm", "-f", "-t", "0", production], { stdio: "ignore" });
  podman("run", "-d", "--name", production, ...RUN, image, "sleep", "infinity");
  process.stderr.write(`writing ${files} files of ${fileKib} KiB into ${production} ...\n`);
  podman(
    "exec",
    production,
    "sh",
    "-c",
    `mkdir -p /var/lib/app && echo entry > /var/lib/app/guestbook.txt && head -c 50000 /dev/urandom > /srv/logo.png; ` +
      `for i in $(seq 0 ${files - 1}); do d=/srv/app/uploads/$((i % 100)); mkdir -p $d; head -c ${fileKib * 1024} /dev/urandom > $d/$i.bin; done; mv /srv/logo.png /srv/app/uploads/logo.png`,
  );
  lifeboat("--quiet", "snapshot", "--host", "web1");
  podman("rm", "-f", "-t", "0", production);

  // Lifeboat: drills of web1 into fresh, isolated containers.
  const phases = new Map<string, number[]>();
  const rto: number[] = [];
  for (let i = 0; i < runs; i++) {
    const report = JSON.parse(lifeboat("--json", "--quiet", "drill", "--host", "web1")).result as {
      verdict: string;
      rto: { seconds: number };
      phases: Array<{ name: string; seconds: number }>;
    };
    if (report.verdict !== "passed") throw new Error(`drill ${i + 1} failed`);
    rto.push(report.rto.seconds);
    for (const p of report.phases) phases.set(p.name, [...(phases.get(p.name) ?? []), p.seconds]);
  }

  // Raw restic: the same snapshot restored into a fresh container that already holds restic and the CA.
  const resticPath = execFileSync("sh", ["-c", "command -v restic"]).toString().trim();
  const password = readFileSync(path.join(home, "keys/offsite.key"), "utf8").trim();
  const raw: number[] = [];
  for (let i = 0; i < runs; i++) {
    const name = `lifeboat-bench-raw-${i}`;
    spawnSync("podman", ["rm", "-f", "-t", "0", name], { stdio: "ignore" });
    podman("run", "-d", "--name", name, ...RUN, image, "sleep", "infinity");
    podman("cp", resticPath, `${name}:/opt/restic`);
    podman("cp", server.ca, `${name}:/opt/ca.pem`);
    const prefix = `${endpoint}/${bucket}/lifeboat/web1`;
    raw.push(
      timed(
        "podman",
        [
          ...resticInContainer(name, ["RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]),
          ...["-r", `s3:${prefix}`, "--cacert", "/opt/ca.pem", "-o", "s3.bucket-lookup=path"],
          ...[
            "restore",
            "latest",
            "--host",
            "web1",
            "--tag",
            "lifeboat",
            "--target",
            "/",
            "--verify",
            "--quiet",
          ],
        ],
        { ...env, RESTIC_PASSWORD: password },
      ),
    );
    podman("rm", "-f", "-t", "0", name);
  }

  const mb = ((files * fileKib) / 1024).toFixed(0);
  const row = (label: string, xs: number[]) =>
    `${label.padEnd(34)} ${median(xs).toFixed(2).padStart(7)} s   (${xs.map((x) => x.toFixed(2)).join(", ")})`;
  console.log(
    `web1 drill: ${files} files, ${mb} MiB of uploads, S3 at ${endpoint}, ${runs} runs each (median)`,
  );
  for (const [name, xs] of phases) console.log(row(`  lifeboat ${name}`, xs));
  console.log(row("  lifeboat RTO (provision..verify)", rto));
  console.log(row("  raw restic restore (the floor)", raw));
  console.log(
    `restore phase over raw restic: +${(median(phases.get("restore") ?? []) - median(raw)).toFixed(2)} s`,
  );
} finally {
  server.child.kill("SIGTERM");
  spawnSync("podman", ["rm", "-f", "-t", "0", production], { stdio: "ignore" });
}
