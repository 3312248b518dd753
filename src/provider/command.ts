// The command provider: the user's own commands create and destroy a machine (a cloud CLI, Terraform). The
// create command prints `address=<ip or name>` and may print `hostkey=<type> <key>`; Lifeboat then reaches the
// machine over ssh as the runbook's user.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import type { ProviderSpec } from "../runbook/load.js";
import { SshTransport } from "../transport/ssh.js";
import { onlyEnv } from "../util/child-env.js";
import { MachineLedger, type ProviderContext } from "./ownership.js";
import { sshAnsibleVars } from "./ssh.js";
import type { BakedImage, MachineClaim, Provider, ProvisionedHost, ProvisionRequest } from "./types.js";

type CommandSpec = Extract<ProviderSpec, { kind: "command" }>;

const tail = (text: string): string => text.trim().split("\n").slice(-5).join("\n");

export class CommandProvider implements Provider {
  readonly kind = "command" as const;
  private readonly ledger: MachineLedger;
  /** Only with the runbook's `bake` command: the images it made, as this controller recorded them. */
  readonly bakedImages?: (host: string) => Promise<BakedImage[]>;
  readonly baseIdentity?: () => Promise<string>;
  private readonly bakedFile: (host: string) => string;
  constructor(
    private readonly spec: CommandSpec,
    ctx: ProviderContext,
  ) {
    this.ledger = new MachineLedger(ctx);
    this.bakedFile = (host) => path.join(ctx.stateDir, "baked", `${encodeURIComponent(host)}.json`);
    if (spec.bake) {
      this.bakedImages = (host) => this.recordedImages(host);
      // The base is whatever the create command makes: a new command, a new base.
      this.baseIdentity = async () =>
        `create command ${createHash("sha256").update(spec.create).digest("hex").slice(0, 16)}`;
    }
  }

  private async recordedImages(host: string): Promise<BakedImage[]> {
    const text = await readFile(this.bakedFile(host), "utf8").catch(() => "[]");
    try {
      const list = JSON.parse(text) as unknown;
      return Array.isArray(list)
        ? list.filter(
            (i): i is BakedImage =>
              typeof i === "object" &&
              i !== null &&
              typeof i.digest === "string" &&
              typeof i.ref === "string",
          )
        : [];
    } catch {
      return [];
    }
  }

  /** The user's bake command saves the machine; it prints image=<id>, which later create commands get. */
  private async bake(
    run: (
      script: string,
      address?: string,
      signal?: AbortSignal,
      extra?: Record<string, string>,
    ) => Promise<{
      exitCode?: number | undefined;
      stdout: unknown;
      stderr: unknown;
    }>,
    address: string,
    host: string,
    digest: string,
  ): Promise<BakedImage> {
    const script = this.spec.bake;
    if (!script) throw new LifeboatError("INTERNAL", "the runbook has no bake command");
    const r = await run(script, address, undefined, { LIFEBOAT_DIGEST: digest });
    const ref = /^image=(\S+)\s*$/m.exec(String(r.stdout))?.[1];
    if (r.exitCode !== 0 || !ref)
      throw new LifeboatError(
        "PROVISION_FAILED",
        r.exitCode !== 0
          ? `the bake command failed (exit ${r.exitCode}): ${tail(String(r.stderr)) || "no output"}`
          : "the bake command printed no image= line",
        {
          hint: "Run it by hand with LIFEBOAT_NAME and LIFEBOAT_DIGEST set; it must print image=<id> on a line of its own.",
        },
      );
    const image: BakedImage = { host, digest, ref, createdAt: new Date().toISOString() };
    // The newest only: older images are the user's to remove with their own tools.
    await mkdir(path.dirname(this.bakedFile(host)), { recursive: true, mode: 0o700 });
    await writeFile(this.bakedFile(host), JSON.stringify([image]), { mode: 0o600 });
    return image;
  }

  describe(name: string): string {
    return `machine ${name} made by the runbook's create command`;
  }

  async exists(): Promise<"unknown"> {
    // Only the user's own commands know their machines.
    return "unknown";
  }

  private env(request: ProvisionRequest, address = ""): Record<string, string> {
    return {
      LIFEBOAT_NAME: request.name,
      LIFEBOAT_HOST: request.host,
      LIFEBOAT_RUN_ID: request.runId,
      LIFEBOAT_MODE: request.mode,
      ...(address ? { LIFEBOAT_ADDRESS: address } : {}),
      ...(request.image ? { LIFEBOAT_IMAGE: request.image } : {}),
    };
  }

  async create(request: ProvisionRequest): Promise<ProvisionedHost> {
    const timeout = this.spec.timeoutSeconds * 1000;
    // Only the create command is stopped by an abort, with everything it started (its own process group: a
    // cloud CLI it runs must not go on making the machine); the destroy that follows runs to the end.
    const run = async (
      script: string,
      address?: string,
      signal?: AbortSignal,
      extra: Record<string, string> = {},
    ) => {
      const child = execa("sh", ["-c", script], {
        // The basics, the machine's LIFEBOAT_* and what the runbook names; none of Lifeboat's other secrets.
        ...onlyEnv({ ...this.env(request, address), ...extra }, { pass: this.spec.env }),
        reject: false,
        timeout,
        stdin: "ignore",
        detached: signal !== undefined,
      });
      const stop = () => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGTERM");
        } catch {
          // The group ended already.
        }
      };
      if (signal?.aborted) stop();
      signal?.addEventListener("abort", stop, { once: true });
      try {
        return await child;
      } finally {
        signal?.removeEventListener("abort", stop);
      }
    };
    let address = "";
    const destroy = async (): Promise<void> => {
      const r = await run(this.spec.destroy, address);
      if (r.exitCode !== 0) {
        throw new LifeboatError(
          "PROVISION_FAILED",
          `the destroy command failed (exit ${r.exitCode}): ${tail(String(r.stderr))}`,
          {
            hint: `Remove machine ${request.name} by hand.`,
          },
        );
      }
    };
    const created = await run(this.spec.create, undefined, request.signal);
    const out = String(created.stdout);
    address = /^address=(\S+)\s*$/m.exec(out)?.[1] ?? "";
    if (created.exitCode !== 0 || !address) {
      // Whatever it made before failing goes too.
      await destroy().catch(() => {});
      if (request.signal?.aborted)
        throw new LifeboatError("INTERRUPTED", `the create command for ${request.name} was stopped`);
      throw new LifeboatError(
        "PROVISION_FAILED",
        created.exitCode !== 0
          ? `the create command failed (exit ${created.exitCode}): ${tail(String(created.stderr)) || "no output"}`
          : "the create command printed no address= line",
        {
          hint: "Run it by hand with LIFEBOAT_NAME set; it must print address=<ip or name> on a line of its own.",
        },
      );
    }
    // Recorded before anything else can fail: from now on this controller may remove it, in another run too.
    await this.ledger.made({ name: request.name, runId: request.runId, mode: request.mode, address });
    const hostKey = /^hostkey=(\S+ \S+)\s*$/m.exec(out)?.[1];
    // The machine is brand new: its key is the one the create command reports, else the first one it shows.
    const dir = await mkdtemp(path.join(tmpdir(), "lifeboat-known-hosts-"));
    const knownHostsFile = this.spec.knownHostsFile ?? path.join(dir, "known_hosts");
    if (hostKey && !this.spec.knownHostsFile) await writeFile(knownHostsFile, `${address} ${hostKey}\n`);
    const target = {
      destination: `${this.spec.user}@${address}`,
      port: this.spec.port,
      identityFile: this.spec.identityFile,
      knownHostsFile,
      acceptNewHostKey: !hostKey && !this.spec.knownHostsFile,
    };
    const transport = new SshTransport(request.host, target);
    return {
      name: request.name,
      transport,
      address,
      destroy: async () => {
        try {
          await destroy();
          await this.ledger.removed(request.name);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
      removeHint: `LIFEBOAT_NAME=${request.name} LIFEBOAT_ADDRESS=${address} sh -c '<the runbook's destroy command>'`,
      ...(this.spec.bake
        ? { saveImage: (host: string, digest: string) => this.bake(run, address, host, digest) }
        : {}),
      ansibleVars: sshAnsibleVars(target),
    };
  }

  async remove(machine: MachineClaim): Promise<void> {
    // The destroy command gets the name and address this controller recorded, not what the caller was told.
    const made = await this.ledger.claim(
      machine,
      machine.name,
      "Only machines this controller's create command made are removed by Lifeboat; remove it by hand.",
    );
    if (!made) return;
    const r = await execa("sh", ["-c", this.spec.destroy], {
      ...onlyEnv(
        {
          LIFEBOAT_NAME: made.name,
          LIFEBOAT_MODE: made.mode,
          LIFEBOAT_RUN_ID: made.runId,
          LIFEBOAT_ADDRESS: made.address,
        },
        { pass: this.spec.env },
      ),
      reject: false,
      timeout: this.spec.timeoutSeconds * 1000,
      stdin: "ignore",
    });
    if (r.exitCode !== 0)
      throw new LifeboatError(
        "PROVISION_FAILED",
        `the destroy command failed for ${machine.name} (exit ${r.exitCode}): ${tail(String(r.stderr))}`,
        { hint: `Remove machine ${machine.name} by hand.` },
      );
    await this.ledger.removed(made.name);
  }
}
