// Network isolation of a drill or stage container, by the kernel: an nftables table of its own whose chains drop
// every connection the machine opens from its network's bridge, except to the storage it restores from, DNS on
// its own gateway, and (while steps run) what the runbook allows. Replies to connections made to it (the
// controller's checks, Lifeboat's own transport) pass. Production's containers, ports published on this machine,
// other networks and the rest of the world are unreachable from it.
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import { onlyEnv } from "../util/child-env.js";

export interface Endpoint {
  /** An IPv4 address. */
  address: string;
  port: number;
}

export interface IsolationRules {
  /** Always reachable: the storage endpoint(s) the restore reads from. */
  storage: Endpoint[];
  /** Reachable only while steps run (the package mirror): opened and closed by the caller. */
  duringSteps: Endpoint[];
}

/**
 * A run's table: one per machine, named after its run, so that a leftover is found and removed by its run. Each
 * provider has its own prefix: one provider's sweep of leftovers never takes another's live table.
 */
export const tableName = (runId: string, prefix: "lifeboat" | "lifeboatvm" = "lifeboat"): string =>
  `${prefix}_${runId.replace(/[^A-Za-z0-9_]/g, "_")}`;

async function nft(script: string, signal?: AbortSignal): Promise<void> {
  const r = await execa("nft", ["-f", "-"], {
    input: script,
    reject: false,
    cancelSignal: signal,
    ...onlyEnv(),
  });
  if (r.exitCode !== 0) {
    const missing = r.exitCode === undefined || /ENOENT/.test(String(r.message));
    throw new LifeboatError(
      "ISOLATION_UNAVAILABLE",
      `cannot isolate the drill machine's network with nftables: ${missing ? "nft is not installed" : String(r.stderr).trim() || `exit ${r.exitCode}`}`,
      {
        hint: missing
          ? "Install nftables (apt-get install nftables); Lifeboat runs nft to keep drill machines off production's network."
          : "Run Lifeboat as root on the machine whose podman or docker makes the drill machines (nft needs CAP_NET_ADMIN), or set `drill: { isolation: false }` in the runbook to drill without isolation (the report then says NOT ENFORCED).",
      },
    );
  }
}

const elements = (endpoints: readonly Endpoint[]): string =>
  endpoints.length ? ` elements = { ${endpoints.map((e) => `${e.address} . ${e.port}`).join(", ")} }` : "";

/** The isolation of one machine's network (its bridge), from its creation until the table is removed. */
export class NetworkIsolation {
  private constructor(
    readonly table: string,
    private readonly rules: IsolationRules,
  ) {}

  /** Installs the table before the machine starts, so there is no moment it can reach out unfiltered. */
  static async apply(options: {
    runId: string;
    bridge: string;
    gateway: string | undefined;
    rules: IsolationRules;
    signal?: AbortSignal | undefined;
    /** The machine asks its gateway for an address (a VM on libvirt's network): DHCP to the gateway passes. */
    dhcp?: boolean | undefined;
    prefix?: "lifeboat" | "lifeboatvm" | undefined;
  }): Promise<NetworkIsolation> {
    const table = tableName(options.runId, options.prefix);
    const from = `iifname "${options.bridge}"`;
    await nft(
      [
        `table inet ${table} {`,
        `  set storage { type ipv4_addr . inet_service;${elements(options.rules.storage)} }`,
        "  set steps { type ipv4_addr . inet_service; }",
        // Every packet the machine sends passes prerouting, before a published port's DNAT (priority -100) hides
        // where it was going and after conntrack (-200) tells replies from new connections.
        "  chain prerouting {",
        "    type filter hook prerouting priority -150; policy accept;",
        `    ${from} ct state established,related accept`,
        `    ${from} ip daddr . tcp dport @storage accept`,
        `    ${from} ip daddr . tcp dport @steps accept`,
        ...(options.gateway
          ? [
              `    ${from} ip daddr ${options.gateway} udp dport 53 accept`,
              `    ${from} ip daddr ${options.gateway} tcp dport 53 accept`,
            ]
          : []),
        // A DHCP request goes to the broadcast address before the machine has one of its own.
        ...(options.dhcp ? [`    ${from} udp sport 68 udp dport 67 accept`] : []),
        // Refused at once rather than dropped: a step that tries to reach production fails fast and says so.
        `    ${from} meta l4proto tcp counter reject with tcp reset`,
        `    ${from} counter reject with icmpx type admin-prohibited`,
        "  }",
        "}",
        "",
      ].join("\n"),
      options.signal,
    );
    return new NetworkIsolation(table, options.rules);
  }

  /** While steps run: what the runbook allows (the package mirror) becomes reachable too. */
  async openSteps(): Promise<void> {
    if (this.rules.duringSteps.length === 0) return;
    const list = this.rules.duringSteps.map((e) => `${e.address} . ${e.port}`).join(", ");
    await nft(`add element inet ${this.table} steps { ${list} }\n`);
  }

  /** Before the restore and the checks: back to the storage alone. */
  async closeSteps(): Promise<void> {
    await nft(`flush set inet ${this.table} steps\n`);
  }

  /** Removes the table (idempotent). */
  async remove(): Promise<void> {
    await removeTable(this.table);
  }
}

export async function removeTable(table: string): Promise<void> {
  await execa("nft", ["delete", "table", "inet", table], { reject: false, ...onlyEnv() });
}

/** The runs whose isolation tables (of one provider's prefix) exist on this machine (a crash can leave one). */
export async function isolationTables(prefix: "lifeboat" | "lifeboatvm" = "lifeboat"): Promise<string[]> {
  const r = await execa("nft", ["list", "tables"], { reject: false, ...onlyEnv() });
  const table = new RegExp(`^table inet (${prefix}_[A-Za-z0-9_]+)$`);
  return String(r.stdout)
    .split("\n")
    .flatMap((l) => table.exec(l.trim())?.[1] ?? []);
}
