// The container transport: `podman exec` or `docker exec`. Environment values go by name (`-e NAME`), taken
// from the CLI's own environment, so they are in no argv.
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import { childEnv, onlyEnv } from "../util/child-env.js";
import { type ClientCommand, CommandTransport, WATCHED_EXEC } from "./command.js";

export type ContainerEngine = "podman" | "docker";

const engines = new Map<string, Promise<ContainerEngine>>();

/**
 * The engine a policy names, else the first CLI found that answers (podman first: it needs no daemon). Asked
 * once per process: `snapshot --all` over many containers pays for `info` once.
 */
export function findEngine(named?: ContainerEngine): Promise<ContainerEngine> {
  const key = named ?? "any";
  let found = engines.get(key);
  if (!found) {
    found = probeEngine(named);
    engines.set(key, found);
    found.catch(() => engines.delete(key));
  }
  return found;
}

async function probeEngine(named?: ContainerEngine): Promise<ContainerEngine> {
  for (const engine of named ? [named] : (["podman", "docker"] as const)) {
    const r = await execa(engine, ["info", "--format", "{{.Host.Arch}}"], {
      reject: false,
      timeout: 15_000,
      ...onlyEnv(),
    });
    if (r.exitCode === 0) return engine;
  }
  throw new LifeboatError(
    "HOST_UNREACHABLE",
    `no working container engine${named ? ` (${named})` : ""} on this machine`,
    {
      hint: "Install podman (apt-get install podman runc) or start the docker daemon.",
    },
  );
}

const notRunning =
  /no such container|no container with name or id|is not running|can only create exec sessions on running containers/i;

export class ContainerTransport extends CommandTransport {
  readonly kind = "container" as const;
  constructor(
    readonly host: string,
    private readonly container: string,
    private readonly engine: ContainerEngine,
    /** Runs commands as this user (`exec --user`), like a non-root ssh login; default: the image's user. */
    private readonly user?: string,
  ) {
    super();
  }

  protected clientCommand(argv: string[], env: Record<string, string>, watched: boolean): ClientCommand {
    const args = ["exec", "-i", ...(this.user ? ["--user", this.user] : [])];
    for (const key of Object.keys(env)) args.push("-e", key);
    args.push(this.container, ...(watched ? ["sh", "-c", WATCHED_EXEC, "lifeboat"] : []), ...argv);
    return { file: this.engine, args, env: childEnv(env), prefix: Buffer.alloc(0) };
  }

  protected clientFailure(exitCode: number, stderr: string): LifeboatError | undefined {
    // The engine's own failure: podman 125 (no such container) or 255 (stopped), docker 1.
    if (![1, 125, 255].includes(exitCode) || !notRunning.test(stderr)) return undefined;
    return new LifeboatError(
      "HOST_UNREACHABLE",
      `cannot reach ${this.host}: container ${this.container} is not running (${this.engine})`,
      {
        hint: `Start it (\`${this.engine} start ${this.container}\`) or check the container name in the policy.`,
      },
    );
  }

  protected override commandExitCode(exitCode: number, stderr: string): number {
    // An executable that does not exist: 127, as in a shell (podman says so with 127 already; docker with 126/127).
    return /executable file not found|no such file or directory: OCI/i.test(stderr) ? 127 : exitCode;
  }

  async address(): Promise<string> {
    const r = await execa(this.engine, ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", this.container], {
      reject: false,
      ...onlyEnv(),
    });
    return String(r.stdout).trim() || this.container;
  }
}
