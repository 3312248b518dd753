// The vm provider against real libvirt/QEMU virtual machines: the conformance suite, and what only a VM has (its
// own network and isolation table, the files of its run, a host key known before the first login).
import { readdir } from "node:fs/promises";
import { execa } from "execa";
import { expect, test, vi } from "vitest";
import { VmProvider } from "../../src/provider/vm.js";
import { leftovers, loginOf, VM_DIR, vmSpec } from "../helpers/vm.js";
import { providerConformance } from "./conformance.js";

vi.setConfig({ testTimeout: 900_000 });
const stateDir = `/tmp/lifeboat-vm-test-${process.pid}`;
const provider = (dir = `${stateDir}/controller`) => new VmProvider(vmSpec(), { stateDir: dir });

const domainStands = async (name: string) =>
  (await execa("virsh", ["-c", "qemu:///system", "dominfo", name], { reject: false })).exitCode === 0;

providerConformance("vm (libvirt)", async () => ({
  provider: () => provider(),
  otherController: () => provider(`${stateDir}/other-controller`),
  stands: domainStands,
  owns: true,
}));

test("a drill VM: its own network and isolation, a host key known before the first login, nothing left after", async () => {
  const runId = `${process.pid.toString(16)}d1`;
  const p = provider();
  const machine = await p.create({
    name: `pv-drill-${runId}`,
    host: "pv",
    runId,
    mode: "drill",
    isolation: { storage: [], duringSteps: [] },
  });
  try {
    expect(await leftovers(runId)).toEqual(
      expect.arrayContaining([
        `domain pv-drill-${runId}`,
        `network lifeboat-pv-drill-${runId}`,
        expect.stringContaining(`lifeboatvm_${runId}`),
      ]),
    );
    expect(machine.isolation?.detail).toMatch(/nftables table lifeboatvm_.* only the storage/);
    // The known_hosts file holds the key made for this run before the VM booted: ssh checks it, strictly.
    const login = loginOf(machine);
    const r = await execa("ssh", [
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${login.knownHostsFile}`,
      "-i",
      login.identityFile,
      login.destination,
      "hostname; systemctl is-enabled ssh; test -f /etc/cloud/cloud.cfg.d/90-lifeboat.cfg && echo seeded",
    ]);
    expect(r.stdout.split("\n")).toEqual([`pv-drill-${runId}`, "enabled", "seeded"]);
    // Isolated: the machine reaches nothing (no storage allowed here), the controller's own address neither.
    const out = await machine.transport.run([
      "sh",
      "-c",
      "timeout 5 bash -c 'echo > /dev/tcp/deb.debian.org/80' 2>&1 && echo reached || echo refused",
    ]);
    expect(out.stdout.trim().split("\n").at(-1)).toBe("refused");
  } finally {
    await machine.destroy();
  }
  expect(await leftovers(runId)).toEqual([]);
  // Its run directory is gone too (other files' VMs come and go in the same directory meanwhile).
  expect((await readdir(VM_DIR)).filter((d) => d.includes(runId))).toEqual([]);
});

test("the plan says how the VM runs: KVM, or software emulation and why", async () => {
  const p = provider();
  expect(p.describe("web1")).toMatch(/^vm web1 from \/var\/lib\/lifeboat\/images\/bookworm\.qcow2 \(1 CPU/);
  expect(await p.runsOn()).toMatch(/^(KVM|QEMU software emulation, several times slower: .+)$/);
});

test("a missing base image is a typed error that says how to make one", async () => {
  const p = new VmProvider(vmSpec({ image: "/var/lib/lifeboat/images/none.qcow2" }), { stateDir });
  await expect(
    p.create({ name: "pv-none", host: "pv", runId: "none1", mode: "drill" }),
  ).rejects.toMatchObject({
    code: "PROVISION_FAILED",
    hint: expect.stringContaining("scripts/vm-image.sh"),
  });
  expect(await leftovers("pv-none")).toEqual([]);
});
