// Whether a machine starts from a baked image or is built from code: from the image only when it was baked from
// the runbook (and base) as they are now. Losing every image loses nothing: the machine is built from code.
import { LifeboatError } from "../errors.js";
import type { BakedImage, Provider } from "../provider/types.js";
import type { Runbook } from "../runbook/load.js";
import { bakeDigest } from "./digest.js";

/** "auto": the image when it is fresh, else code; "code": always code; "image": the fresh image or an error. */
export type BuildPreference = "auto" | "code" | "image";

export interface BuildChoice {
  from: "code" | "image";
  /** The current runbook's digest, when the provider bakes. */
  digest?: string | undefined;
  /** The image it starts from. */
  image?: BakedImage | undefined;
  /** Why this path, for the plan and the report. */
  why: string;
}

/** The current digest of a runbook on its provider, when the provider bakes. */
export async function currentDigest(provider: Provider, runbook: Runbook): Promise<string | undefined> {
  if (!provider.baseIdentity || !provider.bakedImages) return undefined;
  return bakeDigest(runbook, await provider.baseIdentity());
}

export async function chooseBuild(
  provider: Provider,
  runbook: Runbook,
  host: string,
  prefer: BuildPreference,
): Promise<BuildChoice> {
  const digest = await currentDigest(provider, runbook);
  if (!digest || !provider.bakedImages) {
    if (prefer === "image")
      throw new LifeboatError(
        "USAGE",
        `the ${provider.kind} provider cannot start machines from baked images`,
        {
          hint: "Bake with the container or vm provider, or recover without --from-image.",
        },
      );
    return { from: "code", why: `the ${provider.kind} provider does not bake images` };
  }
  if (prefer === "code") return { from: "code", digest, why: "asked to build from code" };
  const images = await provider.bakedImages(host);
  const fresh = images.find((i) => i.digest === digest);
  if (fresh) return { from: "image", digest, image: fresh, why: `image ${digest} baked ${fresh.createdAt}` };
  const newest = images[0];
  const why = newest
    ? `the image is stale: baked ${newest.createdAt} for ${newest.digest}; the runbook's steps, variables or base image changed since (now ${digest})`
    : `no image is baked for ${host} (lifeboat bake --host ${host})`;
  if (prefer === "image")
    throw new LifeboatError("USAGE", `no fresh baked image for ${host}: ${why}`, {
      hint: `Run \`lifeboat bake --host ${host}\`, or recover without --from-image to build from code.`,
    });
  return { from: "code", digest, why };
}
