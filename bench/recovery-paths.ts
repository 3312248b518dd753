// bench/recovery-paths: three ways to bring web1 back, side by side in one run, for a container and for a VM,
// each on the plain base image (nginx from the package mirror):
//   from code        `lifeboat drill --from-code`: a fresh machine, the runbook's steps, the data, the checks
//   from image       `lifeboat bake` once, then `lifeboat drill`: the machine starts from the baked image
//   full-host        the floor of the other approach: restic backs up production's whole filesystem; a fresh
//                    machine of the same base image gets it back (`restic restore --overwrite if-changed` over /),
//                    then its services are started and the home page fetched
// and the bytes each keeps in object storage (Lifeboat: the irreplaceable data; full-host: the whole machine),
// with the baked image's size (kept on the controller, not in object storage).
//   npm run bench:recovery-paths    (BENCH_DIR, BENCH_FILES, BENCH_FILE_KIB, BENCH_KINDS=container,vm)
// Needs podman with localhost/lifeboat-base:bookworm (scripts/base-image.sh), and for the VM libvirt and
// /var/lib/lifeboat/images/bookworm.qcow2 (scripts/vm-image.sh).
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { benchEnv, startBenchS3 } from "./lib.ts";

const root = path.resolve(import.meta.dirname, "..");
const dir = process.env.BENCH_DIR ?? "/var/tmp/lifeboat-bench-paths";
const files = Number(process.env.BENCH_FILES ?? 200);
const fileKib = Number(process.env.BENCH_FILE_KIB ?? 100);
const kinds = (process.env.BENCH_KINDS ?? "container,vm").split(",");
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(24).toString("base64url");
const bucket = "lifeboat-test";
const VM_DIR = "/var/lib/lifeboat/vms-bench";

const sh = (cmd: string, args: string[], input?: string) =>
  execFileSync(cmd, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "inherit"], input })
    .toString()
    .trim();
const address = /\bsrc (\S+)/.exec(sh("ip", ["-4", "route", "get", "1.1.1.1"]))?.[1];
if (!address) throw new Error("cannot tell this machine's address");
if (spawnSync("podman", ["image", "exists", "localhost/lifeboat-base:bookworm"]).status !== 0)
  sh(path.join(root, "scripts/base-image.sh"), []);
if (kinds.includes("vm")) sh(path.join(root, "scripts/vm-image.sh"), []);

rmSync(dir, { recursive: true, force: true });
mkdirSync(path.join(dir, "policies"), { recursive: true });
process.env.S3_CERT_IPS = address;
const server = await startBenchS3(path.join(dir, "s3"), { accessKey, secretKey, bucket }, "0.0.0.0");
const endpoint = `https://${address}:${server.port}`;
const env = benchEnv(dir, { accessKey, secretKey });
const lifeboat = (...args: string[]) =>
  execFileSync(path.join(root, "bin/lifeboat.js"), args, {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  }).toString();
const json = <T>(...args: string[]): T =>
  (JSON.parse(lifeboat("--json", "--quiet", ...args)) as { result: T }).result;

interface Report {
  runId: string;
  verdict: string;
  address?: string;
  machine: string;
  rto: { seconds: number };
  phases: Array<{ name: string; seconds: number }>;
  build?: { from: string };
}

/** A script on a machine (on its stdin): podman exec for a container, ssh with the run's key for a VM. */
type Exec = (script: string) => string;

interface Kind {
  name: "container" | "vm";
  host: string;
  runbook: string;
  /** How to reach the machine a `recover` of this kind made. */
  reach(report: Report): Exec;
  /** How to give it a file of this machine. */
  put(report: Report, from: string, to: string): void;
  /** Starts web1's services after a full-host restore. */
  start: string;
  remove(report: Report): void;
}

const vmLogin = (r: Report) => path.join(VM_DIR, `${r.machine}-${r.runId}`, "keys");
const ssh = (r: Report): string[] => [
  "-o",
  "BatchMode=yes",
  "-o",
  `UserKnownHostsFile=${vmLogin(r)}/known_hosts`,
  "-i",
  `${vmLogin(r)}/login`,
];

const KINDS: Kind[] = [
  {
    name: "container",
    host: "benchweb",
    runbook: readFileSync(path.join(root, "runbooks/web1.yaml"), "utf8"),
    // The script goes on stdin: restic's password and keys in it never show in a process list.
    reach: (r) => (script) => sh("podman", ["exec", "-i", r.machine, "sh", "-s"], script),
    put: (r, from, to) => sh("podman", ["cp", from, `${r.machine}:${to}`]),
    start: "nginx",
    remove: (r) => void spawnSync("podman", ["rm", "-f", "-t", "0", r.machine]),
  },
  {
    name: "vm",
    host: "benchvm",
    runbook: readFileSync(path.join(root, "runbooks/web1-vm.yaml"), "utf8").replace(
      "disk: 8G",
      `disk: 8G\n    dir: ${VM_DIR}`,
    ),
    reach: (r) => (script) => sh("ssh", [...ssh(r), `root@${r.address}`, "sh -s"], script),
    put: (r, from, to) => sh("scp", [...ssh(r), "-q", from, `root@${r.address}:${to}`]),
    start: "systemctl daemon-reload && systemctl start nginx guestbook",
    remove: (r) => {
      for (const name of [r.machine]) {
        spawnSync("virsh", ["-c", "qemu:///system", "destroy", name], { stdio: "ignore" });
        spawnSync("virsh", ["-c", "qemu:///system", "undefine", name], { stdio: "ignore" });
      }
      rmSync(path.join(VM_DIR, `${r.machine}-${r.runId}`), { recursive: true, force: true });
    },
  },
];

const bytesUnder = (prefix: string): number => {
  const where = path.join(dir, "s3", "data", bucket, prefix);
  return existsSync(where) ? Number(sh("du", ["-sb", where]).split(/\s+/)[0]) : 0;
};
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const results: string[] = [];

writeFileSync(
  path.join(dir, "lifeboat.yaml"),
  `targets:\n  offsite: { type: s3, endpoint: "${endpoint}", bucket: ${bucket}, pathStyle: true, caFile: ${server.ca} }\ndefaults:\n  repository: offsite\n`,
);
cpSync(path.join(root, "runbooks/files"), path.join(dir, "runbooks/files"), { recursive: true });
const made: Array<[Kind, Report]> = [];
const resticPath = sh("sh", ["-c", "command -v restic"]);
const password = () => readFileSync(path.join(dir, "home/keys/offsite.key"), "utf8").trim();

try {
  for (const kind of KINDS.filter((k) => kinds.includes(k.name))) {
    const { host } = kind;
    const full = `${host}full`;
    writeFileSync(
      path.join(dir, `runbooks/${host}.yaml`),
      kind.runbook
        .replace(/^host: web1$/m, `host: ${host}`)
        .replace('"Welcome to web1"', `"Welcome to ${host}"`),
    );
    // A bare machine of the same base image, for the full-host restore: the runbook's provider, no steps.
    writeFileSync(
      path.join(dir, `runbooks/${full}.yaml`),
      `host: ${full}\nprovider:${kind.runbook.split("provider:")[1]?.split("\nsteps:")[0]}\nsteps: [restore]\n`,
    );
    writeFileSync(
      path.join(dir, `policies/${full}.yaml`),
      `host: ${full}\ntransport: local\nirreplaceable: [/srv/none]\n`,
    );
    // Production: built from code by a first recovery without data, then given web1's data.
    const policy = (transport: string) =>
      `host: ${host}\ntransport: ${transport}\nirreplaceable: [/srv/app/uploads, /var/lib/app]\nrebuildable: [/srv/app, /etc/nginx]\n`;
    writeFileSync(path.join(dir, `policies/${host}.yaml`), policy(`{ container: ${host} }`));
    process.stderr.write(`[${kind.name}] production from code ...\n`);
    const prod = json<Report>("recover", "--host", host, "--no-data");
    made.push([kind, prod]);
    if (kind.name === "vm")
      writeFileSync(
        path.join(dir, `policies/${host}.yaml`),
        policy(
          `{ ssh: { destination: root@${prod.address}, identityFile: ${vmLogin(prod)}/login, knownHostsFile: ${vmLogin(prod)}/known_hosts } }`,
        ),
      );
    const onProd = kind.reach(prod);
    onProd(
      `mkdir -p /var/lib/app && echo entry > /var/lib/app/guestbook.txt && head -c 50000 /dev/urandom > /srv/logo.png; ` +
        `for i in $(seq 0 ${files - 1}); do d=/srv/app/uploads/$((i % 100)); mkdir -p $d; head -c ${fileKib * 1024} /dev/urandom > $d/$i.bin; done; mv /srv/logo.png /srv/app/uploads/logo.png`,
    );
    lifeboat("--quiet", "snapshot", "--host", host);
    // The whole machine, for the full-host restore, with the same restic into its own repository.
    kind.put(prod, resticPath, "/opt/restic");
    kind.put(prod, server.ca, "/opt/ca.pem");
    const repo = `-r s3:${endpoint}/${bucket}/fullhost/${host} --cacert /opt/ca.pem -o s3.bucket-lookup=path`;
    const secrets = `RESTIC_PASSWORD='${password()}' AWS_ACCESS_KEY_ID='${accessKey}' AWS_SECRET_ACCESS_KEY='${secretKey}'`;
    process.stderr.write(`[${kind.name}] full-host backup ...\n`);
    onProd(
      `export ${secrets}; /opt/restic ${repo} init -q && /opt/restic ${repo} backup -q --one-file-system / --exclude /opt/restic --exclude /root/.cache`,
    );

    process.stderr.write(`[${kind.name}] drill from code ...\n`);
    const code = json<Report>("drill", "--host", host, "--from-code");
    process.stderr.write(`[${kind.name}] bake ...\n`);
    const baked = json<{ seconds: number; image: { ref: string; bytes?: number } }>("bake", "--host", host);
    process.stderr.write(`[${kind.name}] drill from the image ...\n`);
    const image = json<Report>("drill", "--host", host);
    if (code.verdict !== "passed" || image.verdict !== "passed" || image.build?.from !== "image")
      throw new Error(
        `[${kind.name}] a drill did not pass: ${code.verdict} / ${image.verdict} (${image.build?.from})`,
      );

    process.stderr.write(`[${kind.name}] full-host restore ...\n`);
    const bare = json<Report>("recover", "--host", full, "--no-data");
    made.push([kind, bare]);
    const provision = bare.phases.find((p) => p.name === "provision")?.seconds ?? 0;
    const onBare = kind.reach(bare);
    kind.put(bare, resticPath, "/opt/restic");
    kind.put(bare, server.ca, "/opt/ca.pem");
    const started = process.hrtime.bigint();
    // The machine's own identity stays (its host keys, cloud-init's instance): the rest comes back.
    onBare(
      `export ${secrets}; /opt/restic ${repo} restore latest --target / --overwrite if-changed -q ` +
        "--exclude '/etc/ssh/ssh_host_*' --exclude /root/.ssh --exclude /var/lib/cloud --exclude /etc/machine-id " +
        "--exclude /etc/hostname --exclude /etc/hosts --exclude /etc/resolv.conf --exclude /proc --exclude /sys --exclude /dev --exclude /run",
    );
    const restored = Number(process.hrtime.bigint() - started) / 1e9;
    onBare(kind.start);
    let served = "";
    for (let i = 0; i < 100 && !served.includes(`Welcome to ${host}`); i++) {
      served = spawnSync("curl", ["-s", "-m", "2", `http://${bare.address}/`]).stdout?.toString() ?? "";
      if (!served) execFileSync("sleep", ["0.2"]);
    }
    if (!served.includes(`Welcome to ${host}`))
      throw new Error(`[${kind.name}] the full-host restore serves no home page`);
    const fullRto = provision + Number(process.hrtime.bigint() - started) / 1e9;

    const lifeboatBytes = bytesUnder(`lifeboat/${host}`);
    const fullBytes = bytesUnder(`fullhost/${host}`);
    const row = (label: string, rto: number, stored: string) =>
      `  ${label.padEnd(28)} RTO ${rto.toFixed(1).padStart(6)} s   stored ${stored}`;
    results.push(
      `${kind.name}: web1 (${files} files of ${fileKib} KiB), plain base image, S3 at ${endpoint}`,
      row("from code", code.rto.seconds, `${mib(lifeboatBytes)} in object storage`),
      row(
        "from a baked image",
        image.rto.seconds,
        `${mib(lifeboatBytes)} in object storage + image ${mib(baked.image.bytes ?? 0)} on the controller (baked in ${baked.seconds.toFixed(0)} s)`,
      ),
      row("full-host restore", fullRto, `${mib(fullBytes)} in object storage`),
      `  (full-host: provision ${provision.toFixed(1)} s + restic restore ${restored.toFixed(1)} s + services and first page ${(fullRto - provision - restored).toFixed(1)} s)`,
      `  image / full-host RTO: ${(image.rto.seconds / fullRto).toFixed(2)}x (target <= 1.5x); full-host / Lifeboat stored: ${(fullBytes / lifeboatBytes).toFixed(1)}x (target >= 8x)`,
    );
    console.log(results.slice(-6).join("\n"));
  }
  console.log(`\n${results.join("\n")}`);
} finally {
  for (const [kind, r] of made) kind.remove(r);
  server.child.kill("SIGTERM");
  for (const k of KINDS) {
    spawnSync(
      "sh",
      [
        "-c",
        `podman images --format '{{.Repository}}:{{.Tag}}' | grep lifeboat-baked/${k.host}: | xargs -r podman rmi -f`,
      ],
      { stdio: "ignore" },
    );
    spawnSync("sh", ["-c", `rm -f ${VM_DIR}/baked/${k.host}-*`], { stdio: "ignore" });
  }
}
