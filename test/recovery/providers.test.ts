// The ssh and command providers: a machine the user prepared (reached over ssh), and one made by the user's
// own create/destroy commands (here: shell scripts that run an sshd container, as a cloud CLI would make a VM).
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { BakeResult } from "../../src/bake/run.js";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, type SshHost, sh, startContainerHost, startSshHost } from "../helpers/fleet.js";
import { type VmCommands, writeVmCommands } from "../helpers/vm-commands.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
let ws: Workspace;
let production: ContainerHost;
let spare: SshHost;
let vm: VmCommands;
const keyDir = () => path.join(ws.root, "keys");

async function writeRunbook(provider: string, extraChecks = ""): Promise<void> {
  await writeFile(
    path.join(ws.root, "runbooks/vm1.yaml"),
    `host: vm1
provider:
${provider}
steps:
  - name: app user
    shell: id app >/dev/null 2>&1 || useradd app
  - restore
checks:
  - name: the data is back
    command: test "$(cat /srv/data/notes.txt)" = "written before the disaster ${tag}"
    retries: 0
  - checksum: { path: /srv/data/notes.txt, sha256: ${createHash("sha256").update(`written before the disaster ${tag}\n`).digest("hex")} }
  - tcp: { port: 22 }
${extraChecks}`,
  );
}

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  [production, spare] = await Promise.all([
    startContainerHost(`lbp-vm1-${tag}`),
    startSshHost(`lbp-spare-${tag}`),
  ]);
  await sh(
    production.root,
    `mkdir -p /srv/data && echo "written before the disaster ${tag}" > /srv/data/notes.txt`,
  );
  await ws.writePolicy(
    "vm1.yaml",
    `host: vm1\ntransport: { container: ${production.name} }\nirreplaceable: [/srv/data]\n`,
  );
  await mkdir(path.join(ws.root, "runbooks"), { recursive: true });
  await mkdir(keyDir());
  vm = await writeVmCommands(keyDir());
  const snap = await runCli(["snapshot", "--host", "vm1"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await Promise.all([production?.remove(), spare?.remove()]);
  await rm(ws.root, { recursive: true, force: true });
});

test("command provider: the user's create and destroy commands make and remove the drill machine", async () => {
  await writeRunbook(`  command:
    create: ${vm.create}
    destroy: ${vm.destroy}
    identityFile: ${vm.identityFile}`);
  const env = ws.env;
  const report = jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", "vm1"], env));
  expect(report.verdict).toBe("passed");
  expect(report.checks.map((c) => [c.kind, c.status])).toEqual([
    ["command", "passed"],
    ["checksum", "passed"],
    ["tcp", "passed"],
  ]);
  expect(report.machine).toBe(`vm1-drill-${report.runId}`);
  expect(report.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  expect(report.cleanup).toBe("removed");
  const left = await execa("podman", ["ps", "-a", "--filter", `label=lifeboat.run=${report.runId}`, "-q"]);
  expect(String(left.stdout)).toBe("");

  // A create command that fails: PROVISION_FAILED with its words, and whatever it made is destroyed.
  const create = await readFile(path.join(keyDir(), "create.sh"), "utf8");
  await writeFile(
    path.join(keyDir(), "create.sh"),
    `${create}echo "quota exceeded for instances" >&2; exit 3\n`,
  );
  const failed = await runCli(["--json", "drill", "--host", "vm1"], env);
  expect(failed.exitCode).toBe(1);
  const error = JSON.parse(failed.stdout).error;
  expect(error.code).toBe("PROVISION_FAILED");
  expect(error.message).toContain("the create command failed (exit 3): quota exceeded for instances");
  const failedRun = (error.details.outcome as RecoveryReport).runId;
  const leftAfter = await execa("podman", ["ps", "-a", "--filter", `label=lifeboat.run=${failedRun}`, "-q"]);
  expect(String(leftAfter.stdout)).toBe("");
  await writeFile(path.join(keyDir(), "create.sh"), create);
});

test("command provider with a bake command: the image it saved is what the next create command starts from", async () => {
  await writeRunbook(
    `  command:
    create: ${vm.create}
    destroy: ${vm.destroy}
    bake: ${vm.bake}
    identityFile: ${vm.identityFile}`,
    // The user exists only where the step ran: in the bake, so in the image the machine started from.
    "  - name: the baked user\n    command: id app\n",
  );
  const baked = jsonResult<BakeResult>(await runCli(["--json", "bake", "--host", "vm1"], ws.env));
  expect(baked).toMatchObject({
    status: "baked",
    image: { ref: `localhost/lbcmd-baked-vm1:${baked.digest}` },
  });
  try {
    const report = jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", "vm1"], ws.env));
    expect(report.verdict).toBe("passed");
    expect(report.build).toMatchObject({ from: "image", image: baked.image.ref });
    // The step ran in the bake only: the machine came from the image the create command was given.
    expect(report.steps.map((s) => [s.name, s.status])).toEqual([
      ["app user", "skipped"],
      ["restore", "passed"],
    ]);
    const made = await execa("podman", ["ps", "-a", "--filter", `label=lifeboat.run=${report.runId}`, "-q"]);
    expect(String(made.stdout)).toBe("");
  } finally {
    await execa("podman", ["rmi", "-f", baked.image.ref], { reject: false });
  }
});

test("ssh provider: recovery onto a machine the user prepared", async () => {
  await writeRunbook(`  ssh:
    destination: ${spare.destination}
    identityFile: ${spare.identityFile}
    knownHostsFile: ${spare.knownHostsFile}`);
  const report = jsonResult<RecoveryReport>(await runCli(["--json", "recover", "--host", "vm1"], ws.env));
  expect(report.verdict).toBe("passed");
  expect(report.provider).toBe(`the machine at ${spare.destination} (ssh)`);
  expect(await sh(spare.root, "cat /srv/data/notes.txt")).toBe(`written before the disaster ${tag}\n`);
});
