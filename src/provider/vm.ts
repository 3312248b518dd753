// The vm provider: a fresh machine is a libvirt/QEMU virtual machine booted from an overlay on the runbook's base
// disk, configured at first boot by a cloud-init NoCloud seed (hostname, an SSH login key and a host key, both made
// for this run on the controller), and reached over ssh. A drill's or stage's VM sits on a libvirt network of its
// own whose bridge carries the same nftables isolation as a drill container's.
import { randomBytes } from "node:crypto";
import {
  access,
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import type { ProviderSpec } from "../runbook/load.js";
import { SshTransport } from "../transport/ssh.js";
import { onlyEnv } from "../util/child-env.js";
import { isolationTables, NetworkIsolation, removeTable, tableName } from "./isolation.js";
import { controllerId, MachineLedger, notOurs, type ProviderContext } from "./ownership.js";
import { sshAnsibleVars } from "./ssh.js";
import type { BakedImage, MachineClaim, Provider, ProvisionedHost, ProvisionRequest } from "./types.js";

type VmSpec = Extract<ProviderSpec, { kind: "vm" }>;

const INSTALL_HINT =
  "Install libvirt and QEMU (apt-get install libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils " +
  "cloud-image-utils) and start libvirtd (systemctl start libvirtd; where systemd is not PID 1: virtlogd -d && libvirtd -d).";
/** Where Lifeboat's own marks live in a domain's XML (who made it, for which run). */
const METADATA_NS = "https://lifeboat.invalid/xmlns/vm/1";

const tail = (text: string, lines = 5): string => text.trim().split("\n").slice(-lines).join("\n");
const xml = (s: string): string =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
/** A drill network's bridge: named after its run (at most 15 characters, the kernel's limit). */
const bridgeName = (runId: string): string => `lbv${runId.replace(/[^A-Za-z0-9]/g, "").slice(-12)}`;
/** The libvirt network of a drill's or stage's machine. */
export const drillNetworkName = (machine: string): string => `lifeboat-${machine}`;

export class VmProvider implements Provider {
  readonly kind = "vm" as const;
  private readonly ledger: MachineLedger;
  private accel: Promise<Acceleration> | undefined;

  constructor(
    private readonly spec: VmSpec,
    private readonly ctx: ProviderContext,
  ) {
    this.ledger = new MachineLedger(ctx);
  }

  private virsh(args: string[], options: { signal?: AbortSignal | undefined } = {}) {
    return execa("virsh", ["-q", "-c", this.spec.uri, ...args], {
      reject: false,
      cancelSignal: options.signal,
      stdin: "ignore",
      ...onlyEnv(),
    });
  }

  /** KVM when the runbook asks for it or it works here; else QEMU's software emulation (TCG), and why. */
  private acceleration(): Promise<Acceleration> {
    this.accel ??= (async () => {
      const version = await this.virsh(["version"]);
      if (version.exitCode !== 0) {
        const missing = /ENOENT/.test(String(version.message));
        throw new LifeboatError(
          "VIRTUALIZATION_UNAVAILABLE",
          missing
            ? "virsh is not installed: the vm provider drives libvirt"
            : `cannot connect to libvirt at ${this.spec.uri}: ${tail(String(version.stderr), 2)}`,
          { hint: INSTALL_HINT },
        );
      }
      if (this.spec.acceleration === "tcg") return { type: "qemu", why: "the runbook asks for it" };
      const kvm = (await this.virsh(["domcapabilities", "--virttype", "kvm"])).exitCode === 0;
      if (this.spec.acceleration === "kvm") {
        if (!kvm)
          throw new LifeboatError("VIRTUALIZATION_UNAVAILABLE", "libvirt cannot use KVM on this machine", {
            hint: "Check /dev/kvm (the kvm_intel or kvm_amd module), or set provider.vm.acceleration: tcg.",
          });
        return { type: "kvm" };
      }
      if (!kvm) return { type: "qemu", why: "libvirt cannot use KVM here (no /dev/kvm)" };
      // PVM (kvm_pvm) is KVM without hardware support, for guest kernels built for it: an ordinary Debian kernel
      // hangs as it enters 64-bit mode.
      if (await exists("/sys/module/kvm_pvm"))
        return { type: "qemu", why: "this machine's KVM is PVM, which runs only guest kernels built for it" };
      return { type: "kvm" };
    })();
    this.accel.catch(() => {
      this.accel = undefined;
    });
    return this.accel;
  }

  /** How the machine runs, for the plan and the report: "KVM", or software emulation and why. */
  async runsOn(): Promise<string> {
    const a = await this.acceleration();
    return a.type === "kvm" ? "KVM" : `QEMU software emulation, several times slower: ${a.why}`;
  }

  describe(name: string): string {
    const s = this.spec;
    return `vm ${name} from ${s.image} (${s.cpus} CPU, ${s.memory} MiB, ${s.disk / 1024} GiB disk; libvirt ${s.uri})`;
  }

  async exists(name: string): Promise<boolean> {
    await this.acceleration();
    const r = await this.virsh(["dominfo", name]);
    if (r.exitCode === 0) return true;
    if (/failed to get domain|domain not found/i.test(String(r.stderr))) return false;
    throw new LifeboatError(
      "VIRTUALIZATION_UNAVAILABLE",
      `cannot tell whether VM ${name} exists: ${tail(String(r.stderr))}`,
      {
        hint: INSTALL_HINT,
      },
    );
  }

  async setAside(name: string): Promise<string> {
    const aside = `${name}-replaced-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}`;
    // A clean shutdown first (its services stop as on any shutdown); kept, only renamed.
    await this.virsh(["shutdown", name]);
    for (let i = 0; i < 60 && (await this.state(name)) === "running"; i++) await sleep(500);
    await this.virsh(["destroy", name]);
    const r = await this.virsh(["domrename", name, aside]);
    if (r.exitCode !== 0)
      throw new LifeboatError(
        "PROVISION_FAILED",
        `cannot rename VM ${name} to ${aside}: ${tail(String(r.stderr))}`,
        {
          hint: `Shut down and rename or remove ${name} yourself (virsh domrename ${name} <new name>), then recover again.`,
        },
      );
    return aside;
  }

  private async state(name: string): Promise<string> {
    const r = await this.virsh(["domstate", name]);
    return r.exitCode === 0 ? String(r.stdout).trim() : "gone";
  }

  async create(request: ProvisionRequest): Promise<ProvisionedHost> {
    const accel = await this.acceleration();
    const base = request.image ?? this.spec.image;
    await this.checkImage(base);
    const { name, mode, runId, signal } = request;
    const drill = mode !== "recovery";
    const runDir = path.join(this.spec.dir, `${name}-${runId}`);
    const network = drill ? drillNetworkName(name) : this.spec.network;
    let isolation: NetworkIsolation | undefined;
    let made = false;

    const destroy = async (): Promise<void> => {
      await this.virsh(["destroy", name]);
      await this.virsh(["undefine", name]);
      if (drill) await this.virsh(["net-destroy", network]);
      await isolation?.remove();
      await rm(runDir, { recursive: true, force: true });
      const left = [
        ...((await this.state(name)) === "gone" ? [] : [`VM ${name}`]),
        ...(drill && (await this.virsh(["net-info", network])).exitCode === 0 ? [`network ${network}`] : []),
      ];
      if (left.length)
        throw new LifeboatError("PROVISION_FAILED", `cannot remove ${left.join(" and ")}`, {
          hint: this.removeHint(name, drill ? network : undefined, runDir),
        });
      if (made) await this.ledger.removed(name);
    };
    const fail = async (err: unknown): Promise<never> => {
      await destroy().catch(() => {});
      if (signal?.aborted)
        throw new LifeboatError("INTERRUPTED", `making VM ${name} was stopped; nothing of it is left`);
      throw err;
    };
    const stopped = () => {
      if (signal?.aborted) throw new LifeboatError("INTERRUPTED", `making VM ${name} was stopped`);
    };

    try {
      stopped();
      await mkdir(this.spec.dir, { recursive: true, mode: 0o711 });
      // libvirt's QEMU runs as its own user: it reaches the disk and seed here, not the keys' directory.
      await mkdir(runDir, { mode: 0o711 });
      await chmod(runDir, 0o711);
      const keys = path.join(runDir, "keys");
      await mkdir(keys, { mode: 0o700 });
      // Recorded before anything is made: from now on this controller may remove it, in another run too.
      await this.ledger.made({ name, runId, mode, address: "" });
      made = true;
      const login = await keypair(path.join(keys, "login"), name);
      const hostKey = await keypair(path.join(keys, "host"), name);
      const disk = path.join(runDir, "disk.qcow2");
      const format = await imageFormat(base);
      const created = await execa(
        "qemu-img",
        ["create", "-q", "-f", "qcow2", "-F", format, "-b", base, disk, `${this.spec.disk}M`],
        { reject: false, ...onlyEnv(), cancelSignal: signal },
      );
      if (created.exitCode !== 0)
        throw provisionFailed(`cannot make the overlay disk for ${name}: ${tail(String(created.stderr))}`);
      const seed = path.join(runDir, "seed.iso");
      await this.writeSeed(seed, runDir, {
        hostname: drill ? name : request.host,
        instanceId: `${name}-${runId}`,
        authorizedKey: login.publicKey,
        hostKey,
      });
      stopped();
      let gateway: string | undefined;
      if (drill) {
        gateway = await this.createNetwork(network, runId, signal);
        if (request.isolation) {
          await sweepIsolation();
          isolation = await NetworkIsolation.apply({
            runId,
            bridge: bridgeName(runId),
            gateway,
            rules: request.isolation,
            signal,
            dhcp: true,
            prefix: "lifeboatvm",
          });
        }
      } else {
        await this.ensureNetwork(network);
      }
      stopped();
      const mac = `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
      const domain = path.join(runDir, "domain.xml");
      await writeFile(
        domain,
        await this.domainXml({
          name,
          runId,
          mode,
          host: request.host,
          accel,
          base,
          disk,
          seed,
          network,
          mac,
          runDir,
        }),
      );
      const defined = await this.virsh(["define", domain], { signal });
      if (defined.exitCode !== 0)
        throw provisionFailed(`cannot define VM ${name}: ${tail(String(defined.stderr))}`);
      const started = await this.virsh(["start", name], { signal });
      if (started.exitCode !== 0)
        throw provisionFailed(`cannot start VM ${name}: ${tail(String(started.stderr))}`);
      const deadline = Date.now() + this.spec.bootTimeoutSeconds * 1000;
      const address = await this.waitForAddress(name, mac, deadline, runDir, signal);
      await this.ledger.made({ name, runId, mode, address });
      const knownHostsFile = path.join(keys, "known_hosts");
      await writeFile(knownHostsFile, `${address} ${hostKey.publicKey}\n`, { mode: 0o600 });
      const target = { destination: `root@${address}`, identityFile: login.file, knownHostsFile };
      const transport = new SshTransport(request.host, target);
      await this.waitForLogin(transport, name, deadline, runDir, signal);
      const boot = await this.hasBootFiles(base);
      return {
        name,
        transport,
        address,
        destroy,
        saveImage: (host, digest) => this.saveImage({ name, transport, disk, boot }, host, digest),
        removeHint: this.removeHint(name, drill ? network : undefined, runDir, isolation?.table),
        ansibleVars: sshAnsibleVars(target),
        isolation: isolation
          ? {
              detail: `nftables table ${isolation.table} on bridge ${bridgeName(runId)}: only the storage (${request.isolation?.storage.map((e) => `${e.address}:${e.port}`).join(", ") || "nothing"}), DHCP and DNS on its gateway${request.isolation?.duringSteps.length ? `; while steps run also ${request.isolation.duringSteps.map((e) => `${e.address}:${e.port}`).join(", ")}` : ""}`,
              openSteps: () => (isolation as NetworkIsolation).openSteps(),
              closeSteps: () => (isolation as NetworkIsolation).closeSteps(),
            }
          : undefined,
      };
    } catch (err) {
      return fail(err);
    }
  }

  /**
   * A baked disk: the machine made anonymous again (cloud-init's state, host keys, the bake's login key and machine
   * id go, so the next boot is a new instance), shut down, and its overlay flattened into a disk of its own.
   */
  private async saveImage(
    m: {
      name: string;
      transport: SshTransport;
      disk: string;
      boot: { kernel: string; initrd: string } | undefined;
    },
    host: string,
    digest: string,
  ): Promise<BakedImage> {
    const clean = await m.transport.run([
      "sh",
      "-c",
      "cloud-init clean --logs >/dev/null && rm -f /etc/ssh/ssh_host_* /root/.ssh/authorized_keys && " +
        ": > /etc/machine-id && rm -f /var/lib/dbus/machine-id && apt-get clean && sync",
    ]);
    if (clean.exitCode !== 0)
      throw new LifeboatError(
        "PROVISION_FAILED",
        `cannot prepare ${m.name} for baking: ${tail(clean.stderr)}`,
        {
          hint: "The machine must have cloud-init (the base image script's disk has it).",
        },
      );
    await m.transport.run(["systemctl", "poweroff"]).catch(() => undefined);
    for (let i = 0; i < 240 && (await this.state(m.name)) === "running"; i++) await sleep(500);
    await this.virsh(["destroy", m.name]);
    const dir = this.bakedDir();
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const target = path.join(dir, `${host}-${digest}.qcow2`);
    const part = `${target}.part`;
    const r = await execa("qemu-img", ["convert", "-O", "qcow2", m.disk, part], {
      reject: false,
      ...onlyEnv(),
    });
    if (r.exitCode !== 0) {
      await rm(part, { force: true });
      throw new LifeboatError("PROVISION_FAILED", `cannot save ${m.name}'s disk: ${tail(String(r.stderr))}`, {
        hint: `Check the free space in ${dir}.`,
      });
    }
    if (m.boot) {
      await copyFile(m.boot.kernel, target.replace(/\.qcow2$/, ".vmlinuz"));
      await copyFile(m.boot.initrd, target.replace(/\.qcow2$/, ".initrd"));
    }
    await rename(part, target);
    for (const old of await this.bakedImages(host)) if (old.ref !== target) await removeBaked(old.ref);
    const createdAt = new Date().toISOString();
    return { host, digest, ref: target, createdAt, bytes: (await stat(target)).size };
  }

  private bakedDir(): string {
    return path.join(this.spec.dir, "baked");
  }

  async bakedImages(host: string): Promise<BakedImage[]> {
    const names = await readdir(this.bakedDir()).catch(() => [] as string[]);
    const images: BakedImage[] = [];
    for (const file of names) {
      if (!file.startsWith(`${host}-`) || !file.endsWith(".qcow2")) continue;
      const digest = file.slice(host.length + 1, -".qcow2".length);
      if (!/^[0-9a-f]{12,64}$/.test(digest)) continue;
      const ref = path.join(this.bakedDir(), file);
      const s = await stat(ref).catch(() => undefined);
      if (s) images.push({ host, digest, ref, createdAt: s.mtime.toISOString(), bytes: s.size });
    }
    return images.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async baseIdentity(): Promise<string> {
    const s = await stat(this.spec.image).catch(() => undefined);
    return s
      ? `disk ${this.spec.image} ${s.size} ${s.mtime.toISOString()}`
      : `disk ${this.spec.image} (not here)`;
  }

  private removeHint(name: string, network: string | undefined, runDir: string, table?: string): string {
    const c = `virsh -c ${this.spec.uri}`;
    return [
      `${c} destroy ${name}; ${c} undefine ${name}`,
      ...(network ? [`${c} net-destroy ${network}`] : []),
      ...(table ? [`nft delete table inet ${table}`] : []),
      `rm -rf ${runDir}`,
    ].join("; ");
  }

  /** The base disk, and the kernel and initrd a disk without a bootloader needs, exist and are readable. */
  private async checkImage(image: string): Promise<void> {
    const boot = this.bootFiles(image);
    for (const file of [image, ...(boot ? [boot.kernel, boot.initrd] : [])]) {
      try {
        await access(file);
      } catch {
        throw new LifeboatError("PROVISION_FAILED", `the VM image file ${file} does not exist`, {
          hint:
            file === image
              ? "Build the base image with scripts/vm-image.sh (Debian bookworm from the package mirror), or point provider.vm.image at a qcow2 disk."
              : "Rebuild the base image with scripts/vm-image.sh, or set provider.vm.kernel and initrd to existing files.",
        });
      }
    }
  }

  /**
   * The kernel and initrd to boot: the runbook's, else the ones kept beside the disk (by the base image script, and
   * by a bake beside its image: a baked disk boots the kernel its bake booted).
   */
  private bootFiles(image: string): { kernel: string; initrd: string } | undefined {
    const stem = image.replace(/\.(qcow2|img|raw)$/, "");
    if (image !== this.spec.image && stem !== image)
      return { kernel: `${stem}.vmlinuz`, initrd: `${stem}.initrd` };
    if (this.spec.kernel && this.spec.initrd) return { kernel: this.spec.kernel, initrd: this.spec.initrd };
    if (this.spec.kernel || this.spec.initrd || stem === image) return undefined;
    return { kernel: `${stem}.vmlinuz`, initrd: `${stem}.initrd` };
  }

  private async hasBootFiles(image: string): Promise<{ kernel: string; initrd: string } | undefined> {
    const boot = this.bootFiles(image);
    if (!boot) return undefined;
    try {
      await access(boot.kernel);
      await access(boot.initrd);
      return boot;
    } catch {
      // A disk with its own bootloader (a cloud image) boots as it is.
      return this.spec.kernel ? boot : undefined;
    }
  }

  private async writeSeed(
    seed: string,
    runDir: string,
    c: { hostname: string; instanceId: string; authorizedKey: string; hostKey: Keypair },
  ): Promise<void> {
    const userData = path.join(runDir, "keys", "user-data");
    const metaData = path.join(runDir, "keys", "meta-data");
    const indent = (text: string) =>
      text
        .trim()
        .split("\n")
        .map((l) => `    ${l}`)
        .join("\n");
    await writeFile(
      userData,
      [
        "#cloud-config",
        `hostname: ${c.hostname}`,
        "preserve_hostname: false",
        "users: []",
        "disable_root: false",
        "ssh_pwauth: false",
        "ssh_deletekeys: true",
        // The host key is made on the controller: the first login already knows it (no key trusted on first use).
        "ssh_keys:",
        "  ed25519_private: |",
        indent(await readFile(c.hostKey.file, "utf8")),
        `  ed25519_public: ${c.hostKey.publicKey}`,
        "write_files:",
        "  - path: /root/.ssh/authorized_keys",
        "    permissions: '0600'",
        "    content: |",
        `      ${c.authorizedKey}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    await writeFile(metaData, `instance-id: ${c.instanceId}\nlocal-hostname: ${c.hostname}\n`, {
      mode: 0o600,
    });
    const r = await execa("cloud-localds", [seed, userData, metaData], { reject: false, ...onlyEnv() });
    if (r.exitCode !== 0)
      throw new LifeboatError(
        "VIRTUALIZATION_UNAVAILABLE",
        `cannot make the cloud-init seed: ${tail(String(r.stderr)) || String(r.message)}`,
        { hint: INSTALL_HINT },
      );
    // The seed holds the host's private key: readable by libvirt's QEMU (it relabels it), by nobody else.
    await chmod(seed, 0o600);
  }

  private async domainXml(d: {
    name: string;
    runId: string;
    mode: string;
    host: string;
    accel: Acceleration;
    base: string;
    disk: string;
    seed: string;
    network: string;
    mac: string;
    runDir: string;
  }): Promise<string> {
    const boot = await this.hasBootFiles(d.base);
    const controller = await controllerId(this.ctx);
    return `<domain type='${d.accel.type}'>
  <name>${xml(d.name)}</name>
  <metadata>
    <lifeboat:machine xmlns:lifeboat='${METADATA_NS}' controller='${xml(controller)}' run='${xml(d.runId)}' mode='${xml(d.mode)}' host='${xml(d.host)}'/>
  </metadata>
  <memory unit='MiB'>${this.spec.memory}</memory>
  <vcpu>${this.spec.cpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
${boot ? `    <kernel>${xml(boot.kernel)}</kernel>\n    <initrd>${xml(boot.initrd)}</initrd>\n    <cmdline>${xml(this.spec.cmdline)}</cmdline>\n` : "    <boot dev='hd'/>\n"}  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='${xml(d.disk)}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='${xml(d.seed)}'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='${xml(d.network)}'/>
      <mac address='${d.mac}'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='${xml(path.join(d.runDir, "console.log"))}'/>
      <target port='0'/>
    </serial>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>
`;
  }

  /** A transient NAT network of the drill's own, on a free /24; returns its gateway. */
  private async createNetwork(network: string, runId: string, signal?: AbortSignal): Promise<string> {
    let last = "";
    for (let attempt = 0; attempt < 8; attempt++) {
      const subnet = `10.${200 + ((randomBytes(1)[0] ?? 0) % 50)}.${randomBytes(1)[0] ?? 0}`;
      if (await subnetInUse(subnet)) continue;
      const file = path.join(this.spec.dir, `${network}.xml`);
      await writeFile(
        file,
        `<network>
  <name>${xml(network)}</name>
  <bridge name='${bridgeName(runId)}' stp='off' delay='0'/>
  <forward mode='nat'/>
  <ip address='${subnet}.1' netmask='255.255.255.0'>
    <dhcp><range start='${subnet}.10' end='${subnet}.250'/></dhcp>
  </ip>
</network>
`,
      );
      const r = await this.virsh(["net-create", file], { signal });
      await rm(file, { force: true });
      if (r.exitCode === 0) return `${subnet}.1`;
      last = String(r.stderr);
      if (!/in use|already exists|overlap/i.test(last)) break;
    }
    throw provisionFailed(`cannot create the drill network ${network}: ${tail(last) || "no free subnet"}`);
  }

  /** A recovered machine joins production's network; libvirt's default one is often defined but not started. */
  private async ensureNetwork(network: string): Promise<void> {
    const info = await this.virsh(["net-info", network]);
    if (info.exitCode !== 0)
      throw new LifeboatError("PROVISION_FAILED", `libvirt has no network ${network}`, {
        hint: `Create it (virsh net-define), or set provider.vm.network to one of \`virsh net-list --all\`.`,
      });
    if (/^Active:\s+no/m.test(String(info.stdout))) {
      const r = await this.virsh(["net-start", network]);
      if (r.exitCode !== 0)
        throw provisionFailed(`cannot start libvirt network ${network}: ${tail(String(r.stderr))}`);
    }
  }

  private async waitForAddress(
    name: string,
    mac: string,
    deadline: number,
    runDir: string,
    signal?: AbortSignal,
  ): Promise<string> {
    while (Date.now() < deadline && !signal?.aborted) {
      const r = await this.virsh(["domifaddr", name, "--source", "lease"]);
      const line = String(r.stdout)
        .split("\n")
        .find((l) => l.includes(mac) && /ipv4/.test(l));
      const address = line ? /(\d+\.\d+\.\d+\.\d+)\//.exec(line)?.[1] : undefined;
      if (address) return address;
      if ((await this.state(name)) !== "running")
        throw await bootFailed(name, "stopped before it asked for an address", runDir);
      await sleep(500, signal);
    }
    if (signal?.aborted) throw new LifeboatError("INTERRUPTED", `making VM ${name} was stopped`);
    throw await bootFailed(name, `got no address within ${this.spec.bootTimeoutSeconds} s`, runDir);
  }

  /** Until root logs in with the run's key (and the host key is the one the seed gave it) and cloud-init is done. */
  private async waitForLogin(
    transport: SshTransport,
    name: string,
    deadline: number,
    runDir: string,
    signal?: AbortSignal,
  ): Promise<void> {
    let why = "";
    while (Date.now() < deadline && !signal?.aborted) {
      try {
        const r = await transport.run(["sh", "-c", "cloud-init status --wait >/dev/null 2>&1; echo ok"], {
          timeoutMs: Math.max(5_000, deadline - Date.now()),
          signal,
        });
        if (r.exitCode === 0 && r.stdout.trim() === "ok") return;
        why = r.stderr.trim();
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      await sleep(1000, signal);
    }
    if (signal?.aborted) throw new LifeboatError("INTERRUPTED", `making VM ${name} was stopped`);
    throw await bootFailed(
      name,
      `did not accept an SSH login within ${this.spec.bootTimeoutSeconds} s (${tail(why, 1)})`,
      runDir,
    );
  }

  async remove(machine: MachineClaim): Promise<void> {
    const hint = `Only VMs this controller made are removed by Lifeboat; if it is one it left behind: virsh -c ${this.spec.uri} destroy ${machine.name}; virsh -c ${this.spec.uri} undefine ${machine.name}`;
    const made = await this.ledger.claim(machine, `VM ${machine.name}`, hint);
    if (!made) return;
    // The domain itself must say so too: the ledger names it, the VM of that name now could be another.
    const dump = await this.virsh(["dumpxml", machine.name]);
    if (dump.exitCode === 0) {
      const run = new RegExp(`xmlns:lifeboat=['"]${METADATA_NS}['"][^>]*\\brun=['"]([^'"]+)['"]`).exec(
        String(dump.stdout),
      )?.[1];
      const controller = /\bcontroller=['"]([^'"]+)['"]/.exec(String(dump.stdout))?.[1];
      if (run !== made.runId || controller !== (await controllerId(this.ctx)))
        throw notOurs(
          `VM ${machine.name}`,
          "the VM of that name carries another run's or controller's mark",
          hint,
        );
    }
    const drill = made.mode !== "recovery";
    await this.virsh(["destroy", machine.name]);
    await this.virsh(["undefine", machine.name]);
    if (drill) await this.virsh(["net-destroy", drillNetworkName(machine.name)]);
    await removeTable(tableName(made.runId, "lifeboatvm"));
    const runDir = path.join(this.spec.dir, `${made.name}-${made.runId}`);
    await rm(runDir, { recursive: true, force: true });
    if ((await this.state(machine.name)) !== "gone")
      throw new LifeboatError("PROVISION_FAILED", `cannot remove VM ${machine.name}`, {
        hint: this.removeHint(machine.name, drill ? drillNetworkName(machine.name) : undefined, runDir),
      });
    await this.ledger.removed(made.name);
  }
}

type Acceleration = { type: "kvm" } | { type: "qemu"; why: string };

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

interface Keypair {
  file: string;
  publicKey: string;
}

async function keypair(file: string, comment: string): Promise<Keypair> {
  const r = await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], {
    reject: false,
    stdin: "ignore",
    ...onlyEnv(),
  });
  if (r.exitCode !== 0)
    throw new LifeboatError("PROVISION_FAILED", `cannot make an SSH key: ${tail(String(r.stderr))}`, {
      hint: "Install openssh-client (ssh-keygen).",
    });
  const publicKey = (await readFile(`${file}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
  return { file, publicKey };
}

async function imageFormat(image: string): Promise<string> {
  const r = await execa("qemu-img", ["info", "--output=json", image], { reject: false, ...onlyEnv() });
  if (r.exitCode !== 0)
    throw new LifeboatError(
      "PROVISION_FAILED",
      `cannot read the VM image ${image}: ${tail(String(r.stderr))}`,
      {
        hint: "Check the file (qemu-img info), or rebuild it with scripts/vm-image.sh.",
      },
    );
  const format = (JSON.parse(String(r.stdout)) as { format?: unknown }).format;
  return typeof format === "string" ? format : "raw";
}

async function removeBaked(disk: string): Promise<void> {
  const stem = disk.replace(/\.qcow2$/, "");
  for (const f of [disk, `${stem}.vmlinuz`, `${stem}.initrd`]) await rm(f, { force: true });
}

async function subnetInUse(prefix: string): Promise<boolean> {
  const r = await execa("ip", ["-4", "route"], { reject: false, ...onlyEnv() });
  return String(r.stdout).includes(`${prefix}.`);
}

function provisionFailed(message: string): LifeboatError {
  return new LifeboatError("PROVISION_FAILED", message, {
    hint: "Check that libvirt works here (virsh list --all) and see the VM's console log in the message.",
  });
}

/** A boot that went wrong says what the VM's console said last. */
async function bootFailed(name: string, why: string, runDir: string): Promise<LifeboatError> {
  const console = await readFile(path.join(runDir, "console.log"), "utf8").catch(() => "");
  return new LifeboatError(
    "PROVISION_FAILED",
    `VM ${name} ${why}${console ? `; its console ended with:\n${tail(console.replace(/\r/g, ""), 8)}` : ""}`,
    {
      hint: "Check the base image (scripts/vm-image.sh builds one that boots) and the runbook's kernel, initrd and cmdline.",
    },
  );
}

/** Removes VM isolation tables whose drill network is gone (a crash left them; a new bridge could take the name). */
async function sweepIsolation(): Promise<void> {
  const tables = await isolationTables("lifeboatvm");
  if (tables.length === 0) return;
  const live = await execa("ip", ["-o", "link", "show", "type", "bridge"], { reject: false, ...onlyEnv() });
  const bridges = String(live.stdout);
  for (const table of tables) {
    const runId = table.slice("lifeboatvm_".length);
    if (!bridges.includes(bridgeName(runId))) await removeTable(table);
  }
}
