// The container provider: a fresh machine is a container (podman or docker) from the runbook's image. A drill's
// container gets a network of its own, publishes no ports and shares no volume with production.
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import type { ProviderSpec } from "../runbook/load.js";
import { type ContainerEngine, ContainerTransport, findEngine } from "../transport/container.js";
import type { Provider, ProvisionedHost, ProvisionRequest } from "./types.js";

type ContainerSpec = Extract<ProviderSpec, { kind: "container" }>;

const tail = (text: string, lines = 5): string => text.trim().split("\n").slice(-lines).join("\n");

export class ContainerProvider implements Provider {
  readonly kind = "container" as const;
  private engine: ContainerEngine | undefined;

  constructor(private readonly spec: ContainerSpec) {}

  private async cli(): Promise<ContainerEngine> {
    this.engine ??= await findEngine(this.spec.engine);
    return this.engine;
  }

  private async run(args: string[], signal?: AbortSignal) {
    return execa(await this.cli(), args, { reject: false, cancelSignal: signal, stdin: "ignore" });
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
    const destroy = async (): Promise<void> => {
      // podman waits 10 s for a main process that ignores SIGTERM (sleep); nothing in a drill needs that grace.
      await this.run(["rm", "-f", "-v", ...(engine === "podman" ? ["--time", "0"] : []), name]);
      if (drill && network) await this.run(["network", "rm", "-f", network]);
    };
    const failed = async (what: string, stderr: string): Promise<never> => {
      await destroy();
      throw new LifeboatError("PROVISION_FAILED", `${what}: ${tail(stderr) || "no reason given"}`, {
        hint: `Check that ${engine} works here and that the image ${this.spec.image} exists (\`${engine} image ls\`).`,
      });
    };
    if (drill && network) {
      const r = await this.run(
        ["network", "create", "--label", `lifeboat.run=${request.runId}`, network],
        request.signal,
      );
      if (r.exitCode !== 0) await failed(`cannot create the drill network ${network}`, String(r.stderr));
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
      ...(network ? ["--network", network] : []),
      ...(drill ? [] : this.spec.ports.flatMap((p) => ["-p", p])),
      ...this.spec.runOptions,
      this.spec.image,
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
    return { name, transport, address, destroy, removeHint, ansibleVars };
  }

  async remove(machine: { name: string; mode: ProvisionRequest["mode"] }): Promise<void> {
    const engine = await this.cli();
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
        { hint: `Check that ${engine} works here, then remove it by hand: ${engine} rm -f ${machine.name}` },
      );
    if (machine.mode !== "recovery") await this.run(["network", "rm", "-f", `lifeboat-${machine.name}`]);
  }
}

/** The container's first IP address on any of its networks. */
export async function containerAddress(engine: ContainerEngine, name: string): Promise<string> {
  const r = await execa(
    engine,
    ["inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
    { reject: false },
  );
  return String(r.stdout).trim().split(/\s+/).filter(Boolean)[0] ?? "";
}
