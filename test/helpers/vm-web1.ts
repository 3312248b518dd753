// web1 as a VM for the recovery tests: production is a real VM (libvirt) made by the provider as a recovery would
// make it, with web1's data snapshotted; its policy names runbooks/web1-vm.yaml as shipped (for this host, with the
// tests' VM directory and a smaller disk).
import { randomBytes } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import type { ProvisionedHost } from "../../src/provider/types.js";
import { VmProvider } from "../../src/provider/vm.js";
import { runCli } from "./cli.js";
import type { S3ServerInfo } from "./s3/start.js";
import { loginOf, VM_DIR, VM_IMAGE, vmSpec } from "./vm.js";
import { createWorkspace, type Workspace } from "./workspace.js";

export interface VmWeb1 {
  tag: string;
  host: string;
  ws: Workspace;
  production: ProvisionedHost;
  /** Every VM, run directory and baked image of this host, whatever the tests left. */
  remove(): Promise<void>;
}

const repo = path.resolve(import.meta.dirname, "../..");
const virsh = (...args: string[]) =>
  execa("virsh", ["-q", "-c", "qemu:///system", ...args], { reject: false });

export async function startVmWeb1(s3: S3ServerInfo): Promise<VmWeb1> {
  const tag = randomBytes(3).toString("hex");
  const host = `vmweb${tag}`;
  const ws = await createWorkspace();
  await ws.useFleetS3(s3);
  const production = await new VmProvider(vmSpec(), {
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
  const remove = async () => {
    await production.destroy();
    for (const d of String((await virsh("list", "--all", "--name")).stdout).split("\n"))
      if (d.trim().startsWith(host)) {
        await virsh("destroy", d.trim());
        await virsh("undefine", d.trim());
      }
    await rm(ws.root, { recursive: true, force: true });
    // A recovered VM's run directory (a recovery's machine stays; the test removes it) and the baked images.
    for (const d of await readdir(VM_DIR).catch(() => [] as string[]))
      if (d.startsWith(`${host}-`)) await rm(path.join(VM_DIR, d), { recursive: true, force: true });
    for (const f of await readdir(path.join(VM_DIR, "baked")).catch(() => [] as string[]))
      if (f.startsWith(`${host}-`)) await rm(path.join(VM_DIR, "baked", f), { force: true });
  };
  return { tag, host, ws, production, remove };
}
