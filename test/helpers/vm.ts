// Real virtual machines for the vm provider's tests: libvirt (started by scripts/setup.sh where no service manager
// runs it) and the base disk scripts/vm-image.sh builds from Debian's packages. Missing parts fail, never skip.
import path from "node:path";
import { execa } from "execa";
import type { ProvisionedHost } from "../../src/provider/types.js";
import type { ProviderSpec } from "../../src/runbook/load.js";

const VM_IMAGE_SCRIPT = path.resolve(import.meta.dirname, "../../scripts/vm-image.sh");
export const VM_IMAGE = "/var/lib/lifeboat/images/bookworm.qcow2";
/** The tests' VMs: their overlays and seeds, apart from a user's. */
export const VM_DIR = "/var/lib/lifeboat/vms-test";

/** Builds the base disk once (cached), after making sure libvirt answers. */
export async function ensureVmImage(): Promise<void> {
  const version = await execa("virsh", ["-c", "qemu:///system", "version"], { reject: false });
  if (version.exitCode !== 0)
    throw new Error(
      `libvirt does not answer (${String(version.stderr || version.message).trim()}): run scripts/test.sh, which installs libvirt and QEMU and starts libvirtd`,
    );
  await execa(VM_IMAGE_SCRIPT, [], { stdio: ["ignore", "ignore", "inherit"] });
}

export const vmSpec = (overrides: Partial<Extract<ProviderSpec, { kind: "vm" }>> = {}) =>
  ({
    kind: "vm",
    image: VM_IMAGE,
    cmdline: "root=/dev/vda rw console=ttyS0 net.ifnames=0",
    cpus: 1,
    memory: 1024,
    disk: 4096,
    network: "default",
    uri: "qemu:///system",
    dir: VM_DIR,
    acceleration: "auto",
    bootTimeoutSeconds: 600,
    ...overrides,
  }) satisfies ProviderSpec;

/** The provider's root login to a machine it made (from the variables it gives Ansible). */
export function loginOf(machine: ProvisionedHost): {
  destination: string;
  identityFile: string;
  knownHostsFile: string;
} {
  const v = machine.ansibleVars;
  const knownHostsFile = /UserKnownHostsFile=(\S+)/.exec(v.ansible_ssh_common_args ?? "")?.[1];
  if (!v.ansible_ssh_private_key_file || !knownHostsFile) throw new Error("the VM has no ssh login");
  return {
    destination: `${v.ansible_user ?? "root"}@${v.ansible_host}`,
    identityFile: v.ansible_ssh_private_key_file,
    knownHostsFile,
  };
}

/** What libvirt and nftables hold of Lifeboat's VMs: domains, networks, isolation tables, with a name part. */
export async function leftovers(part: string): Promise<string[]> {
  const virsh = (args: string[]) =>
    execa("virsh", ["-q", "-c", "qemu:///system", ...args], { reject: false }).then((r) =>
      String(r.stdout)
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.includes(part)),
    );
  const tables = String((await execa("nft", ["list", "tables"], { reject: false })).stdout)
    .split("\n")
    .filter((l) => l.includes("lifeboatvm_") && l.includes(part));
  return [
    ...(await virsh(["list", "--all", "--name"])).map((d) => `domain ${d}`),
    ...(await virsh(["net-list", "--all", "--name"])).map((n) => `network ${n}`),
    ...tables,
  ];
}
