// The container transport: `podman exec` or `docker exec`. Environment values go by name (`-e NAME`), taken
// from the CLI's own environment, so they are in no argv.
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import { CommandTransport, type ExecResult } from "./command.js";
import type { RunOptions } from "./types.js";

export type ContainerEngine = "podman" | "docker";

/** The engine a policy names, else the first CLI found that answers (podman first: it needs no daemon). */
export async function findEngine(named?: ContainerEngine): Promise<ContainerEngine> {
  for (const engine of named ? [named] : (["podman", "docker"] as const)) {
    const r = await execa(engine, ["info", "--format", "{{.Host.Arch}}"], { reject: false, timeout: 15_000 });
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
  ) {
    super();
  }

  protected async exec(argv: string[], options: RunOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new LifeboatError("INTERNAL", "run() needs a program");
    const env = options.env ?? {};
    const args = ["exec", "-i", ...Object.keys(env).flatMap((key) => ["-e", key]), this.container, ...argv];
    const r = await this.spawnClient(this.engine, args, argv, options, {
      input: options.stdin ?? "",
      env: { ...process.env, ...env },
    });
    const stderr = r.stderr;
    // The engine's own failure: podman 125 (no such container) or 255 (stopped), docker 1.
    if ([1, 125, 255].includes(r.exitCode ?? 0) && notRunning.test(stderr)) {
      throw new LifeboatError(
        "HOST_UNREACHABLE",
        `cannot reach ${this.host}: container ${this.container} is not running (${this.engine})`,
        {
          hint: `Start it (\`${this.engine} start ${this.container}\`) or check the container name in the policy.`,
        },
      );
    }
    // An executable that does not exist: 127, as in a shell (podman says so with 127 already; docker with 126/127).
    const exitCode = /executable file not found|no such file or directory: OCI/i.test(stderr)
      ? 127
      : (r.exitCode ?? 1);
    return { exitCode, stdout: r.stdout, stderr };
  }

  async address(): Promise<string> {
    const r = await execa(this.engine, ["inspect", "-f", "{{.NetworkSettings.IPAddress}}", this.container], {
      reject: false,
    });
    return String(r.stdout).trim() || this.container;
  }
}
