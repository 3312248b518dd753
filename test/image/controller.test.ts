// The controller image (Dockerfile) built with podman from a Node 24 base this project makes itself
// (scripts/node-image.sh: no image registry is reachable here), started the way the README says: /healthz answers,
// `lifeboat --version` runs inside, the daemon runs as the unprivileged user, and its restic snapshots.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { VERSION } from "../../src/version.js";
import { ensureMinbaseImage } from "../helpers/fleet.js";
import { waitUntilReady } from "../helpers/ready.js";

// A first build installs restic, podman and the npm dependencies inside the image: minutes on a fresh machine.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 900_000 });

const REPO = path.resolve(import.meta.dirname, "../..");
const RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
const tag = randomBytes(3).toString("hex");
const IMAGE = "localhost/lifeboat-controller:test";
const container = `lifeboat-controller-${tag}`;
const volume = `lifeboat-state-${tag}`;
let etc: string;

/** The build, as the README and the Dockerfile's comments say, with this machine's proxy CA when it has one. */
async function buildImage(): Promise<void> {
  const nodeImage = (await execa(path.join(REPO, "scripts/node-image.sh"), [], { cwd: REPO })).stdout.trim();
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  const proxyCa = ca
    ? [
        "--volume",
        `${ca}:/etc/ssl/proxy-ca.crt:ro`,
        "--build-arg",
        "NODE_EXTRA_CA_CERTS=/etc/ssl/proxy-ca.crt",
      ]
    : [];
  const build = (...args: string[]) =>
    execa(
      "podman",
      [
        "build",
        "--format",
        "docker",
        ...RUN_FLAGS,
        "--build-arg",
        `NODE_IMAGE=${nodeImage}`,
        ...proxyCa,
        ...args,
        REPO,
      ],
      { cwd: REPO },
    );
  // The build stage tagged first, so that it stays as the next run's cache (npm ci) while stale ones are pruned.
  await build("--target", "build", "-t", `${IMAGE}-build`);
  await build("-t", IMAGE);
  await execa("podman", ["image", "prune", "-f", "--filter", "label=io.lifeboat.stage=build"], {
    reject: false,
  });
}

const TOKEN = randomBytes(24).toString("hex");

beforeAll(async () => {
  await ensureMinbaseImage();
  await buildImage();
  // /etc/lifeboat as the README mounts it: lifeboat.yaml and policies, readable by the image's user.
  etc = await mkdtemp(path.join(tmpdir(), "lifeboat-controller-etc-"));
  await chmod(etc, 0o755);
  await writeFile(
    path.join(etc, "lifeboat.yaml"),
    "targets:\n  primary: { type: local }\ndaemon:\n  listen: 0.0.0.0:9469\n  tokenEnv: LIFEBOAT_METRICS_TOKEN\n",
    { mode: 0o644 },
  );
  await mkdir(path.join(etc, "policies"), { mode: 0o755 });
  // A host whose data is the mounted configuration itself: never snapshotted, so the daemon catches up at once.
  await writeFile(
    path.join(etc, "policies/controller.yaml"),
    'host: controller\nschedule: "0 3 * * *"\nirreplaceable: [/etc/lifeboat]\n',
    { mode: 0o644 },
  );
  await writeFile(path.join(etc, "env"), `LIFEBOAT_LOG_LEVEL=info\nLIFEBOAT_METRICS_TOKEN=${TOKEN}\n`, {
    mode: 0o644,
  });
}, 900_000);

afterAll(async () => {
  await execa("podman", ["rm", "-f", "--time", "0", container], { reject: false });
  await execa("podman", ["volume", "rm", "-f", volume], { reject: false });
  if (etc) await rm(etc, { recursive: true, force: true });
});

const inside = async (...argv: string[]) =>
  (await execa("podman", ["exec", container, ...argv], { reject: false })).stdout.trim();

test("the controller image runs the daemon as the README starts it: /healthz, --version, unprivileged, snapshots", async () => {
  // README: docker run -d --name lifeboat -v …/etc:/etc/lifeboat:ro -v lifeboat-state:/var/lib/lifeboat --env-file … -p 9469:9469 lifeboat
  await execa("podman", [
    "run",
    "-d",
    "--name",
    container,
    ...RUN_FLAGS,
    "-v",
    `${etc}:/etc/lifeboat:ro`,
    "-v",
    `${volume}:/var/lib/lifeboat`,
    "--env-file",
    path.join(etc, "env"),
    "-p",
    "127.0.0.1::9469",
    IMAGE,
  ]);
  const port = (await execa("podman", ["port", container, "9469"])).stdout.trim().split(":").at(-1);
  const healthz = `http://127.0.0.1:${port}/healthz`;
  const running = async () =>
    (await execa("podman", ["inspect", "-f", "{{.State.Running}}", container])).stdout.trim() === "true";
  await waitUntilReady({
    what: `the controller container ${container}`,
    probe: async () => {
      if (!(await running())) throw new Error("exited");
      return (await fetch(healthz)).status === 200;
    },
    output: async () => (await execa("podman", ["logs", container], { reject: false, all: true })).all ?? "",
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  const health = await fetch(healthz);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", hosts: 1 });
  // Beyond loopback, /metrics wants the token; /healthz does not.
  const metricsUrl = healthz.replace("/healthz", "/metrics");
  expect((await fetch(metricsUrl)).status).toBe(401);
  expect(
    (await fetch(metricsUrl, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status,
  ).toBe(401);
  const metrics = await fetch(metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(metrics.status).toBe(200);
  expect(await metrics.text()).toContain("# HELP lifeboat_");
  // The image's own HEALTHCHECK (kept by --format docker) passes too.
  expect((await execa("podman", ["healthcheck", "run", container], { reject: false })).exitCode).toBe(0);

  // The daemon (PID 1) and anything run inside are the unprivileged user lifeboat (uid 10001).
  expect(await inside("id", "-un")).toBe("lifeboat");
  expect(await inside("sh", "-c", "awk '/^Uid:/ {print $2}' /proc/1/status")).toBe("10001");
  const version = await execa("podman", ["run", "--rm", ...RUN_FLAGS, IMAGE, "--version"]);
  expect(version.stdout.trim()).toBe(VERSION);

  // Its restic works: the catch-up snapshot of the never-snapshotted host succeeds into the state volume.
  let status = "";
  await waitUntilReady({
    what: "the controller's catch-up snapshot",
    probe: async () => {
      status = await inside("node", "/opt/lifeboat/bin/lifeboat.js", "--json", "status");
      const hosts = (JSON.parse(status) as { result: Array<{ lastGoodSnapshot?: unknown }> }).result;
      return hosts[0]?.lastGoodSnapshot !== undefined;
    },
    output: async () =>
      `status: ${status}\n${(await execa("podman", ["logs", container], { reject: false, all: true })).all}`,
    timeoutMs: 60_000,
    intervalMs: 500,
  });

  // SIGTERM (podman stop) ends it cleanly.
  await execa("podman", ["stop", "--time", "30", container]);
  expect((await execa("podman", ["inspect", "-f", "{{.State.ExitCode}}", container])).stdout.trim()).toBe(
    "0",
  );
});
