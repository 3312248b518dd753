// bench/vault: a container host's snapshot into the vault (restic's REST server, append-only, served by
// `lifeboat vault serve`) through Lifeboat, against raw restic in the same container to the same REST server
// (its floor), and against Lifeboat into the S3 test server; every run into a new repository, alternating.
//   npm run bench:vault     (BENCH_DIR, BENCH_FILES, BENCH_FILE_KIB, BENCH_PAIRS)
// Needs the test fleet's image (npm test builds it), podman and restic-rest-server (scripts/setup.sh).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { median, resticInContainer, startBenchS3, timed } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-vault";
const files = Number(process.env.BENCH_FILES ?? 2000);
const fileKib = Number(process.env.BENCH_FILE_KIB ?? 100);
const pairs = Number(process.env.BENCH_PAIRS ?? 3);
const node = path.join(root, "node_modules", ".bin", "node");
const image = "lifeboat-test-base:bookworm-3";
const container = "lifeboat-bench-vault";
const bridge = "10.88.0.1";
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(24).toString("base64url");
const bucket = "lifeboat-test";

if (spawnSync("podman", ["image", "exists", image]).status !== 0) {
  console.error(`podman image ${image} is missing: run \`npm test\` once (its setup builds it).`);
  process.exit(2);
}

const podman = (...args: string[]) => execFileSync("podman", args, { stdio: ["ignore", "pipe", "inherit"] });
rmSync(dir, { recursive: true, force: true });
mkdirSync(path.join(dir, "policies"), { recursive: true });
spawnSync("podman", ["rm", "-f", "--time", "0", container], { stdio: "ignore" });
podman(
  ...["run", "-d", "--name", container, "--runtime", "runc", "--ulimit", "nofile=1024:1024"],
  ...["--ulimit", "nproc=1024:1024", image, "sleep", "infinity"],
);
const s3 = await startBenchS3(path.join(dir, "s3"), { accessKey, secretKey, bucket }, "0.0.0.0");
const port = 18000 + Math.floor(Math.random() * 1000);
const hosts = Array.from({ length: pairs }, (_, i) => i);
// One host name per run, so that every run starts with a new repository: lb<i> through Lifeboat into the vault,
// raw<i> by raw restic (its login made the same way), s3<i> through Lifeboat into S3.
writeFileSync(
  path.join(dir, "lifeboat.yaml"),
  `targets:
  vault: { type: rest, url: "https://${bridge}:${port}", path: ${dir}/vault }
  s3: { type: s3, endpoint: "https://${bridge}:${s3.port}", bucket: ${bucket}, pathStyle: true, caFile: ${s3.ca} }
defaults:
  repository: vault
`,
);
for (const i of hosts)
  for (const [name, target] of [
    [`lb${i}`, "vault"],
    [`raw${i}`, "vault"],
    [`s3${i}`, "s3"],
  ] as const)
    writeFileSync(
      path.join(dir, "policies", `${name}.yaml`),
      `host: ${name}\nrepository: ${target}\ntransport: { container: ${container} }\nirreplaceable: [/srv/data]\n`,
    );
const env: NodeJS.ProcessEnv = {
  ...process.env,
  LIFEBOAT_HOME: path.join(dir, "home"),
  LIFEBOAT_CONFIG: path.join(dir, "lifeboat.yaml"),
  AWS_ACCESS_KEY_ID: accessKey,
  AWS_SECRET_ACCESS_KEY: secretKey,
  AWS_EC2_METADATA_DISABLED: "true",
};
const cli = (...args: string[]) => [path.join(root, "bin/lifeboat.js"), "--quiet", ...args];
// Every login before the server starts, so that none waits for it to re-read its .htpasswd.
for (const i of hosts)
  for (const h of [`lb${i}`, `raw${i}`]) execFileSync(node, cli("vault", "add-host", "--host", h), { env });
const vault: ChildProcess = spawn(node, cli("vault", "serve", "--listen", `0.0.0.0:${port}`), {
  env,
  stdio: "ignore",
});
try {
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
  for (let i = 0; !(await listening()); i++) {
    if (i > 100) throw new Error("the vault did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stderr.write(`writing ${files} files of ${fileKib} KiB into the container ...\n`);
  podman(
    "exec",
    container,
    "sh",
    "-c",
    `for i in $(seq 0 ${files - 1}); do d=/srv/data/$((i % 100)); mkdir -p $d; head -c ${fileKib * 1024} /dev/urandom > $d/$i.bin; done`,
  );
  podman("cp", execFileSync("sh", ["-c", "command -v restic"]).toString().trim(), `${container}:/opt/restic`);
  podman("cp", path.join(dir, "home", "vault", "vault", "cert.pem"), `${container}:/opt/vault-ca.pem`);

  const lifeboat = (host: string) => timed(node, cli("snapshot", "--host", host, "--no-prune"), env);
  const raw = (i: number) => {
    const login = readFileSync(
      path.join(dir, "home", "keys", "vault", "vault", `raw${i}.login`),
      "utf8",
    ).trim();
    const rawEnv = {
      ...process.env,
      RESTIC_REPOSITORY: `rest:https://${bridge}:${port}/raw${i}/`,
      // lifeboat init made its repository too (it has a policy): with the target's key, as raw restic would.
      RESTIC_PASSWORD: readFileSync(path.join(dir, "home", "keys", "vault.key"), "utf8").trim(),
      RESTIC_REST_USERNAME: `raw${i}`,
      RESTIC_REST_PASSWORD: login,
    };
    const vars = ["RESTIC_REPOSITORY", "RESTIC_PASSWORD", "RESTIC_REST_USERNAME", "RESTIC_REST_PASSWORD"];
    const restic = [...resticInContainer(container, vars), "--cacert", "/opt/vault-ca.pem"];
    spawnSync("sync");
    return timed("podman", [...restic, "backup", "-q", "--host", `raw${i}`, "/srv/data"], rawEnv);
  };
  // Repositories, host keys and logins made beforehand (untimed), as raw restic's init is: each timed run is a
  // full backup into an empty repository.
  execFileSync(node, cli("init"), { env, stdio: ["ignore", "ignore", "inherit"] });
  const t = { vault: [] as number[], raw: [] as number[], s3: [] as number[] };
  for (const i of hosts) {
    const order = i % 2 === 0 ? (["vault", "raw", "s3"] as const) : (["s3", "raw", "vault"] as const);
    for (const which of order) {
      spawnSync("sync");
      t[which].push(which === "raw" ? raw(i) : lifeboat(which === "vault" ? `lb${i}` : `s3${i}`));
      process.stderr.write(".");
    }
  }
  process.stderr.write("\n");
  const mib = (files * fileKib) / 1024;
  const restic = spawnSync("restic", ["version"]).stdout.toString().trim();
  console.log(
    `vault: ${mib.toFixed(0)} MiB in ${files} files in a podman container; ${restic}; restic-rest-server --append-only --private-repos over HTTPS and s3rver over HTTPS, both at the podman bridge; ${pairs} runs each, every run a new repository`,
  );
  const f = (x: number) => `${x.toFixed(2)}s`;
  console.log(`snapshot into the vault through Lifeboat   ${f(median(t.vault))}`);
  console.log(
    `raw restic to the same REST server         ${f(median(t.raw))}   ratio ${(median(t.vault) / median(t.raw)).toFixed(3)}`,
  );
  console.log(
    `snapshot into S3 through Lifeboat          ${f(median(t.s3))}   vault/S3 ${(median(t.vault) / median(t.s3)).toFixed(3)}`,
  );
} finally {
  vault.kill("SIGTERM");
  s3.child.kill("SIGTERM");
  spawnSync("podman", ["rm", "-f", "--time", "0", container], { stdio: "ignore" });
}
