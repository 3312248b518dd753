// The container provider: a fresh machine is a container (podman or docker) from the runbook's image. A drill's
// container gets a network of its own, publishes no ports and shares no volume with production.
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import type { ProviderSpec } from "../runbook/load.js";
import { type ContainerEngine, ContainerTransport, findEngine } from "../transport/container.js";
import { onlyEnv } from "../util/child-env.js";
import { type Endpoint, isolationTables, NetworkIsolation, removeTable, tableName } from "./isolation.js";
import { controllerId, notOurs, type ProviderContext } from "./ownership.js";
import type { BakedImage, Provider, ProvisionedHost, ProvisionRequest } from "./types.js";

type ContainerSpec = Extract<ProviderSpec, { kind: "container" }>;

const tail = (text: string, lines = 5): string => text.trim().split("\n").slice(-lines).join("\n");

export class ContainerProvider implements Provider {
  readonly kind = "container" as const;
  private engine: ContainerEngine | undefined;

  constructor(
    private readonly spec: ContainerSpec,
    private readonly ctx: ProviderContext,
  ) {}

  private async cli(): Promise<ContainerEngine> {
    this.engine ??= await findEngine(this.spec.engine);
    return this.engine;
  }

  private async run(args: string[], signal?: AbortSignal) {
    return execa(await this.cli(), args, {
      reject: false,
      cancelSignal: signal,
      stdin: "ignore",
      ...onlyEnv(),
    });
  }

  describe(name: string): string {
    return `container ${name} from ${this.spec.image}${this.spec.engine ? ` (${this.spec.engine})` : ""}`;
  }

  async exists(name: string): Promise<boolean> {
    return (await this.run(["container", "inspect", "--format", "{{.Name}}", name])).exitCode === 0;
  }

  async setAside(name: string): Promise<string> {
    const aside = `${name}-replaced-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}`;
    await this.run(["stop", "-t", "10", name]);
    const r = await this.run(["rename", name, aside]);
    if (r.exitCode !== 0) {
      throw new LifeboatError(
        "PROVISION_FAILED",
        `cannot rename container ${name} to ${aside}: ${tail(String(r.stderr))}`,
        {
          hint: `Stop and rename or remove ${name} yourself, then recover again.`,
        },
      );
    }
    return aside;
  }

  async create(request: ProvisionRequest): Promise<ProvisionedHost> {
    const engine = await this.cli();
    const { name, mode } = request;
    // A drill or a stage never joins production's network: a network of its own, removed with it.
    const drill = mode !== "recovery";
    const network = drill ? `lifeboat-${name}` : this.spec.network;
    const removeHint = drill
      ? `${engine} rm -f -v ${name} && ${engine} network rm ${network}`
      : `${engine} rm -f -v ${name}`;
    let isolation: NetworkIsolation | undefined;
    const destroy = async (): Promise<void> => {
      // podman waits 10 s for a main process that ignores SIGTERM (sleep); nothing in a drill needs that grace.
      await this.run(["rm", "-f", "-v", ...(engine === "podman" ? ["--time", "0"] : []), name]);
      if (drill && network) await this.run(["network", "rm", "-f", network]);
      await isolation?.remove();
    };
    const failed = async (what: string, stderr: string): Promise<never> => {
      await destroy();
      throw new LifeboatError("PROVISION_FAILED", `${what}: ${tail(stderr) || "no reason given"}`, {
        hint: `Check that ${engine} works here and that the image ${this.spec.image} exists (\`${engine} image ls\`).`,
      });
    };
    const controller = `lifeboat.controller=${await controllerId(this.ctx)}`;
    if (drill && network) {
      const r = await this.run(
        ["network", "create", "--label", `lifeboat.run=${request.runId}`, "--label", controller, network],
        request.signal,
      );
      if (r.exitCode !== 0) await failed(`cannot create the drill network ${network}`, String(r.stderr));
      if (request.isolation) {
        try {
          await this.sweepIsolation();
          isolation = await NetworkIsolation.apply({
            runId: request.runId,
            ...(await this.bridgeOf(network)),
            rules: request.isolation,
            signal: request.signal,
          });
        } catch (err) {
          await destroy();
          throw err;
        }
      }
    }
    const args = [
      "run",
      "-d",
      "--name",
      name,
      "--hostname",
      drill ? name : request.host,
      "--label",
      `lifeboat.host=${request.host}`,
      "--label",
      `lifeboat.run=${request.runId}`,
      "--label",
      `lifeboat.mode=${mode}`,
      "--label",
      controller,
      ...(network ? ["--network", network] : []),
      // The default `sleep infinity` as PID 1 ignores SIGTERM (a stop waited 10 s for nothing): an init forwards
      // it. Only for that command: an image's own init (systemd) must stay PID 1.
      ...(isDefaultCommand(this.spec.command) && !this.spec.runOptions.includes("--init") ? ["--init"] : []),
      ...(drill ? [] : this.spec.ports.flatMap((p) => ["-p", p])),
      ...this.spec.runOptions,
      // Volumes, the host's network, devices: production's place only; a drill or stage never gets them.
      ...(drill ? [] : this.spec.recoveryRunOptions),
      request.image ?? this.spec.image,
      ...this.spec.command,
    ];
    const r = await this.run(args, request.signal);
    if (r.exitCode !== 0) await failed(`cannot start container ${name}`, String(r.stderr));
    const transport = new ContainerTransport(request.host, name, engine);
    const address = await containerAddress(engine, name);
    if (!address) await failed(`container ${name} has no network address`, "");
    // Ansible's own connection plugins for the engines (Debian's `ansible` package ships both).
    const ansibleVars = {
      ansible_connection: engine === "podman" ? "containers.podman.podman" : "community.docker.docker",
      ansible_host: name,
    };
    const isolated = isolation;
    const saveImage = (host: string, digest: string) => this.commit(name, host, digest);
    return {
      saveImage,
      name,
      transport,
      address,
      destroy,
      removeHint: isolated ? `${removeHint} && nft delete table inet ${isolated.table}` : removeHint,
      ansibleVars,
      isolation: isolated
        ? {
            detail: `nftables table ${isolated.table}: only the storage (${describeEndpoints(request.isolation?.storage ?? [])}) and DNS on its gateway${request.isolation?.duringSteps.length ? `; while steps run also ${describeEndpoints(request.isolation.duringSteps)}` : ""}`,
            openSteps: () => isolated.openSteps(),
            closeSteps: () => isolated.closeSteps(),
          }
        : undefined,
    };
  }

  /** A baked image: the machine's filesystem committed as localhost/lifeboat-baked/<host>:<digest>. */
  private async commit(name: string, host: string, digest: string): Promise<BakedImage> {
    const ref = bakedRef(host, digest);
    const createdAt = new Date().toISOString();
    const r = await this.run([
      "commit",
      // `--change LABEL`: podman 4.3's commit has no --label; docker's has neither.
      "--change",
      `LABEL lifeboat.host=${host} lifeboat.digest=${digest} lifeboat.baked=${createdAt}`,
      name,
      ref,
    ]);
    if (r.exitCode !== 0)
      throw new LifeboatError(
        "PROVISION_FAILED",
        `cannot save ${name} as ${ref}: ${tail(String(r.stderr))}`,
        {
          hint: `Check the engine's storage (\`${await this.cli()} system df\`).`,
        },
      );
    for (const old of await this.bakedImages(host))
      if (old.ref !== ref) await this.run(["image", "rm", old.ref]);
    return { host, digest, ref, createdAt, bytes: await this.imageSize(ref) };
  }

  async bakedImages(host: string): Promise<BakedImage[]> {
    const repository = bakedRef(host, "").slice(0, -1);
    const r = await this.run(["images", "--filter", `reference=${repository}`, "--format", "{{.Tag}}"]);
    const images: BakedImage[] = [];
    for (const digest of String(r.stdout)
      .split("\n")
      .map((t) => t.trim())) {
      if (!/^[0-9a-f]{12,64}$/.test(digest)) continue;
      const ref = bakedRef(host, digest);
      const labels = await this.run([
        "image",
        "inspect",
        "--format",
        '{{index .Config.Labels "lifeboat.baked"}}',
        ref,
      ]);
      images.push({
        host,
        digest,
        ref,
        createdAt: String(labels.stdout).trim(),
        bytes: await this.imageSize(ref),
      });
    }
    return images.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  private async imageSize(ref: string): Promise<number | undefined> {
    const r = await this.run(["image", "inspect", "--format", "{{.Size}}", ref]);
    const n = Number(String(r.stdout).trim());
    return r.exitCode === 0 && Number.isFinite(n) ? n : undefined;
  }

  async baseIdentity(): Promise<string> {
    const r = await this.run(["image", "inspect", "--format", "{{.Id}}", this.spec.image]);
    return r.exitCode === 0 ? `image ${String(r.stdout).trim()}` : `image ${this.spec.image} (not here)`;
  }

  async remove(machine: {
    name: string;
    mode: ProvisionRequest["mode"];
    runId?: string | undefined;
  }): Promise<void> {
    const engine = await this.cli();
    const network = `lifeboat-${machine.name}`;
    const container = await this.labelsOf("container", machine.name);
    const net = machine.mode === "recovery" ? undefined : await this.labelsOf("network", network);
    // Only what this controller made for that run: a name from the catalog could be production's.
    for (const [what, labels] of [
      [`container ${machine.name}`, container],
      [`network ${network}`, net],
    ] as const) {
      if (!labels) continue;
      const why = await this.foreign(labels, machine);
      if (why)
        throw notOurs(
          what,
          why,
          `If it is a machine Lifeboat left behind, remove it by hand: ${engine} rm -f ${machine.name}`,
        );
    }
    if (container) {
      const r = await this.run([
        "rm",
        "-f",
        "-v",
        ...(engine === "podman" ? ["--time", "0"] : []),
        machine.name,
      ]);
      if (r.exitCode !== 0 && !/no such container|no container with name/i.test(String(r.stderr)))
        throw new LifeboatError(
          "PROVISION_FAILED",
          `cannot remove container ${machine.name}: ${tail(String(r.stderr))}`,
          {
            hint: `Check that ${engine} works here, then remove it by hand: ${engine} rm -f ${machine.name}`,
          },
        );
    }
    if (net) await this.run(["network", "rm", "-f", network]);
    // The run's isolation table, once the run is known to be this controller's (a drill's own).
    if (machine.runId && (container || net)) await removeTable(tableName(machine.runId));
  }

  /** A container's or network's labels, or undefined when there is none of that name. */
  private async labelsOf(
    kind: "container" | "network",
    name: string,
  ): Promise<Record<string, string> | undefined> {
    const format = kind === "container" ? "{{json .Config.Labels}}" : "{{json .Labels}}";
    const r = await this.run([kind, "inspect", "--format", format, name]);
    if (r.exitCode !== 0) return undefined;
    try {
      return (JSON.parse(String(r.stdout).trim() || "{}") ?? {}) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** Why a machine with these labels is not this controller's of that run; undefined when it is. */
  private async foreign(
    labels: Record<string, string>,
    machine: { mode: ProvisionRequest["mode"]; runId?: string | undefined },
  ): Promise<string | undefined> {
    if (labels["lifeboat.controller"] !== (await controllerId(this.ctx)))
      return "it does not carry this controller's lifeboat.controller label";
    if (machine.runId && labels["lifeboat.run"] !== machine.runId)
      return `it belongs to run ${labels["lifeboat.run"] ?? "(none)"}, not ${machine.runId}`;
    if (labels["lifeboat.mode"] !== undefined && labels["lifeboat.mode"] !== machine.mode)
      return `it is a ${labels["lifeboat.mode"]} machine, not a ${machine.mode}`;
    return undefined;
  }

  /** The bridge device (and gateway) of a network: where the isolation's rules match the machine's traffic. */
  private async bridgeOf(network: string): Promise<{ bridge: string; gateway: string | undefined }> {
    const engine = await this.cli();
    const format =
      engine === "podman"
        ? "{{.NetworkInterface}} {{range .Subnets}}{{.Gateway}} {{end}}"
        : 'br-{{printf "%.12s" .Id}} {{range .IPAM.Config}}{{.Gateway}} {{end}}';
    const r = await this.run(["network", "inspect", "--format", format, network]);
    const [bridge, gateway] = String(r.stdout).trim().split(/\s+/);
    if (r.exitCode !== 0 || !bridge)
      throw new LifeboatError(
        "ISOLATION_UNAVAILABLE",
        `cannot tell the bridge of network ${network}: ${tail(String(r.stderr))}`,
        {
          hint: `Check \`${engine} network inspect ${network}\`.`,
        },
      );
    return { bridge, gateway };
  }

  /** Removes isolation tables whose run's network is gone (a crash left them; a new bridge could take the name). */
  private async sweepIsolation(): Promise<void> {
    const live = String((await this.run(["network", "ls", "--format", "{{.Labels}}"])).stdout);
    for (const table of await isolationTables()) {
      const runId = table.slice("lifeboat_".length);
      if (!live.includes(`lifeboat.run:${runId}`) && !live.includes(`lifeboat.run=${runId}`))
        await removeTable(table);
    }
  }
}

const describeEndpoints = (endpoints: readonly Endpoint[]): string =>
  endpoints.map((e) => `${e.address}:${e.port}`).join(", ") || "nothing";

/** The container's first IP address on any of its networks. */
export async function containerAddress(engine: ContainerEngine, name: string): Promise<string> {
  const r = await execa(
    engine,
    ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
    { reject: false, ...onlyEnv() },
  );
  return String(r.stdout).trim().split(/\s+/).filter(Boolean)[0] ?? "";
}

/** Where a host's baked image is kept in the engine's store, one tag per digest. */
const bakedRef = (host: string, digest: string): string => `localhost/lifeboat-baked/${host}:${digest}`;

/** The runbook's container command when it names none: a machine that only waits to be configured. */
const isDefaultCommand = (command: readonly string[]): boolean =>
  command.length === 2 && command[0] === "sleep" && command[1] === "infinity";
