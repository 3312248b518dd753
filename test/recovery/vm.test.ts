// Recovering and drilling a virtual machine with systemd: production is a real VM (libvirt) with web1's data;
// runbooks/web1-vm.yaml rebuilds it on a fresh VM, where nginx and the guestbook are services enabled at boot.
import { randomBytes } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { BakeResult } from "../../src/bake/run.js";
import type { ProvisionedHost } from "../../src/provider/types.js";
import { VmProvider } from "../../src/provider/vm.js";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { leftovers, loginOf, VM_DIR, VM_IMAGE, vmSpec } from "../helpers/vm.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 1_500_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const host = `vmweb${tag}`;
const repo = path.resolve(import.meta.dirname, "../..");
let ws: Workspace;
let production: ProvisionedHost;
const virsh = (...args: string[]) =>
  execa("virsh", ["-q", "-c", "qemu:///system", ...args], { reject: false });

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  // Production: a VM on libvirt's default network, made by the provider as a recovery would make it.
  production = await new VmProvider(vmSpec(), {
    stateDir: path.join(ws.root, "production-controller"),
  }).create({ name: host, host, runId: `prod${tag}`, mode: "recovery" });
  await production.transport.run([
    "sh",
    "-c",
    `mkdir -p /srv/app/uploads /var/lib/app && head -c 65536 /dev/urandom > /srv/app/uploads/logo.png &&
     echo "signed before the disaster ${tag}" > /var/lib/app/guestbook.txt`,
  ]);
  const login = loginOf(production);
  await ws.writePolicy(
    `${host}.yaml`,
    `host: ${host}
transport: { ssh: { destination: ${login.destination}, identityFile: ${login.identityFile}, knownHostsFile: ${login.knownHostsFile} } }
runbook: ${path.join(ws.root, "runbooks", "web1-vm.yaml")}
irreplaceable: [/srv/app/uploads, /var/lib/app]
`,
  );
  // The example runbook as shipped, for this host, with the tests' VM directory and a smaller disk.
  await mkdir(path.join(ws.root, "runbooks"), { recursive: true });
  await cp(path.join(repo, "runbooks/files"), path.join(ws.root, "runbooks/files"), { recursive: true });
  const example = await readFile(path.join(repo, "runbooks/web1-vm.yaml"), "utf8");
  expect(example).toContain(`image: ${VM_IMAGE}`);
  await writeFile(
    path.join(ws.root, "runbooks/web1-vm.yaml"),
    example
      .replace(/^host: web1$/m, `host: ${host}`)
      .replace("disk: 8G", `disk: 4G\n    dir: ${VM_DIR}`)
      .replace('contains: "Welcome to web1"', `contains: "Welcome to ${host}"`),
  );
  const snap = await runCli(["snapshot", "--host", host], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
}, 1_200_000);

afterAll(async () => {
  await production?.destroy();
  for (const d of String((await virsh("list", "--all", "--name")).stdout).split("\n"))
    if (d.trim().startsWith(host)) {
      await virsh("destroy", d.trim());
      await virsh("undefine", d.trim());
    }
  await rm(ws.root, { recursive: true, force: true });
  // The recovered VM's run directory (a recovery's machine stays; the test removes it).
  for (const d of await readdir(VM_DIR).catch(() => [] as string[]))
    if (d.startsWith(`${host}-`)) await rm(path.join(VM_DIR, d), { recursive: true, force: true });
  for (const f of await readdir(path.join(VM_DIR, "baked")).catch(() => [] as string[]))
    if (f.startsWith(`${host}-`)) await rm(path.join(VM_DIR, "baked", f), { force: true });
});

test("a drill rebuilds the VM in isolation: services enabled, data back, production unreachable, nothing left", async () => {
  const runbook = path.join(ws.root, "runbooks/web1-vm.yaml");
  const text = await readFile(runbook, "utf8");
  // The drill machine itself tries production's VM: the isolation must refuse it.
  await writeFile(
    runbook,
    text.replace(
      "checks:\n",
      `checks:\n  - name: production's VM is out of reach\n    command: "! timeout 5 bash -c 'echo > /dev/tcp/${production.address}/22'"\n`,
    ),
  );
  try {
    const report = jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", host], ws.env));
    expect(report.verdict, JSON.stringify(report.checks)).toBe("passed");
    expect(report.isolation).toMatchObject({
      enforced: true,
      detail: expect.stringContaining("lifeboatvm_"),
    });
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["production's VM is out of reach", "passed"],
      ["home page", "passed"],
      ["an upload is served", "passed"],
      ["the guestbook app serves its entries", "passed"],
      ["nginx and the guestbook start at boot", "passed"],
    ]);
    // Production answered all along: the drill's check failed to reach it because of the isolation alone.
    expect((await production.transport.run(["true"])).exitCode).toBe(0);
    expect(await leftovers(`${host}-drill`)).toEqual([]);
  } finally {
    await writeFile(runbook, text);
  }
});

test("recover --replace sets the old VM aside and brings the host back; its services come back after a reboot", async () => {
  const r = await runCli(["--json", "recover", "--host", host, "--replace"], ws.env);
  const report = jsonResult<RecoveryReport>(r);
  expect(report.verdict, r.stderr).toBe("passed");
  // The old machine is kept, shut off, under another name.
  const all = String((await virsh("list", "--all", "--name")).stdout);
  expect(all).toMatch(new RegExp(`^${host}-replaced-\\S+$`, "m"));
  expect(all).toMatch(new RegExp(`^${host}$`, "m"));
  const address = report.address ?? "";
  expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  // The recovered VM restarts: nginx and the guestbook are up again without anyone starting them.
  await virsh("reboot", host);
  let served = "";
  for (let i = 0; i < 120 && !served.includes(`signed before the disaster ${tag}`); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    served = await fetch(`http://${address}:8080/guestbook.txt`).then(
      (res) => res.text(),
      () => "",
    );
  }
  expect(served).toContain(`signed before the disaster ${tag}`);
  expect((await fetch(`http://${address}/`)).status).toBe(200);
});

test("a baked VM image: the drill skips the baked steps, renders the templates, and says from which image", async () => {
  const baked = jsonResult<BakeResult>(await runCli(["--json", "bake", "--host", host], ws.env));
  expect(baked).toMatchObject({
    status: "baked",
    image: { ref: `${VM_DIR}/baked/${host}-${baked.digest}.qcow2` },
  });
  expect(await leftovers(`${host}-bake`)).toEqual([]);
  const report = jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", host], ws.env));
  expect(report.verdict, JSON.stringify(report.checks)).toBe("passed");
  expect(report.build).toMatchObject({ from: "image", digest: baked.digest, image: baked.image.ref });
  // The first drill of this file was from code: the report sets its RTO beside this one.
  expect(report.build?.otherRto?.from).toBe("code");
  expect(report.steps.map((s) => [s.name, s.status])).toEqual([
    ["apt nginx python3", "skipped"],
    ["files /etc/nginx/sites-enabled/default (+1)", "skipped"],
    ["templates /srv/app/www/index.html", "passed"],
    ["restore", "passed"],
    ["enable and start nginx and the guestbook", "passed"],
  ]);
  expect(await leftovers(`${host}-drill`)).toEqual([]);
});
