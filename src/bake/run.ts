// `lifeboat bake --host H`: the runbook's steps up to `restore` on a fresh, isolated machine, saved as an image
// tagged with the runbook's digest. A recovery or drill then starts from it while the digest still matches, and
// skips those steps. Nothing but time depends on an image: without one, the machine is built from code.
import type { Logger } from "pino";
import { newRunId, recordRun } from "../catalog/records.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost } from "../policy/load.js";
import { openProvider } from "../provider/open.js";
import type { BakedImage } from "../provider/types.js";
import { isolationRules } from "../recovery/isolation.js";
import { templateVariables } from "../recovery/machine.js";
import { runStep } from "../recovery/steps.js";
import type { StepResult } from "../report/schema.js";
import { type Runbook, requireRunbook } from "../runbook/load.js";
import { bakeDigest } from "./digest.js";

export interface BakeOptions {
  config: LifeboatConfig;
  host: string;
  /** Bake again even when an image of the current digest exists. */
  force?: boolean | undefined;
  runbook?: Runbook | undefined;
  trigger?: "manual" | "schedule";
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
  onStep?: ((step: StepResult) => void) | undefined;
}

export interface BakeResult {
  host: string;
  /** "fresh": an image of this digest was there already; nothing was made. */
  status: "baked" | "fresh";
  digest: string;
  image: BakedImage;
  seconds: number;
  steps: StepResult[];
}

export async function bakeHost(options: BakeOptions): Promise<BakeResult> {
  const { config } = options;
  const policy = await policyForHost(config, options.host);
  const runbook = options.runbook ?? (await requireRunbook(config, policy));
  const provider = openProvider(runbook.provider, config);
  if (!provider.bakedImages || !provider.baseIdentity)
    throw new LifeboatError("USAGE", `${policy.host}'s ${provider.kind} provider cannot bake images`, {
      hint:
        provider.kind === "command"
          ? "Give the runbook's command provider a `bake` command that saves the machine as an image (a cloud's create-image call) and prints image=<id>; the create command then gets it as LIFEBOAT_IMAGE."
          : "Baked images are made by the container and vm providers; the ssh provider's machine is the user's own.",
    });
  const digest = bakeDigest(runbook, await provider.baseIdentity());
  const started = Date.now();
  const existing = (await provider.bakedImages(policy.host)).find((i) => i.digest === digest);
  if (existing && !options.force)
    return { host: policy.host, status: "fresh", digest, image: existing, seconds: 0, steps: [] };

  const runId = newRunId();
  const steps: StepResult[] = [];
  return recordRun(
    {
      id: runId,
      catalog: catalogFor(config, policy.repository),
      host: policy.host,
      kind: "bake",
      trigger: options.trigger ?? "manual",
      logger: options.logger,
      learnt: () => ({ details: { digest, steps } }),
    },
    async () => {
      // Made like a drill's machine: isolated, reaching only the storage and what the runbook allows its steps.
      const machine = await provider.create({
        name: `${policy.host}-bake-${runId}`,
        host: policy.host,
        runId,
        mode: "drill",
        signal: options.signal,
        isolation: await isolationRules(config, policy, runbook, "drill"),
      });
      try {
        const vars = templateVariables(runbook, {
          host: policy.host,
          name: machine.name,
          address: machine.address,
          mode: "drill",
          runId,
        });
        const restoreAt = runbook.steps.findIndex((s) => s.kind === "restore");
        await machine.isolation?.openSteps();
        // Every step before `restore`, templates too (a later step may need their files); a machine started from
        // the image renders its templates again.
        for (const step of runbook.steps.slice(0, restoreAt < 0 ? undefined : restoreAt)) {
          if (step.kind === "restore") continue;
          const result = await runStep(step, {
            transport: machine.transport,
            machine: { name: machine.name, ansibleVars: machine.ansibleVars },
            vars,
            signal: options.signal,
          });
          steps.push(result);
          options.onStep?.(result);
          if (result.status === "failed")
            throw new LifeboatError(
              "STEP_FAILED",
              `bake of ${policy.host} failed at step ${step.name}: ${result.error ?? "failed"}`,
              {
                hint: `Fix the step in the runbook (drill it: \`lifeboat drill --host ${policy.host} --from-code\`), then bake again.${result.outputTail ? `\nIts output ended with:\n${result.outputTail}` : ""}`,
              },
            );
        }
        await machine.isolation?.closeSteps();
        if (!machine.saveImage)
          throw new LifeboatError("INTERNAL", `the ${provider.kind} provider's machine cannot be saved`);
        const image = await machine.saveImage(policy.host, digest);
        return {
          host: policy.host,
          status: "baked" as const,
          digest,
          image,
          seconds: (Date.now() - started) / 1000,
          steps,
        };
      } finally {
        await machine
          .destroy()
          .catch((err: unknown) =>
            options.logger?.error(
              { error: (err as Error).message, remove: machine.removeHint },
              "could not remove the bake machine",
            ),
          );
      }
    },
    (r) => ({
      totalBytes: r.image.bytes,
      details: { digest: r.digest, image: r.image.ref, seconds: r.seconds },
    }),
  );
}
