// The daemon's scheduled drill of a host that has baked images: it alternates between the two paths so that both
// stay proven (from the image, then from code, then from the image...), and bakes again first when the runbook
// changed since the image was made. A host never baked is drilled from code, as before.
import type { Logger } from "pino";
import { HostHistory } from "../catalog/history.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import type { Policy } from "../policy/load.js";
import { openProvider } from "../provider/open.js";
import { reportOf } from "../report/find.js";
import type { Runbook } from "../runbook/load.js";
import type { BuildPreference } from "./choose.js";
import { currentDigest } from "./choose.js";
import { bakeHost } from "./run.js";

export interface ScheduledPath {
  /** Bake before the drill: the host has images, none of the runbook as it is now, and the image's turn came. */
  bake: boolean;
  build: BuildPreference;
}

/** Which path the next scheduled drill takes, from whether the host is baked and what the last drill used. */
export function scheduledPath(s: {
  baked: boolean;
  fresh: boolean;
  last: "code" | "image" | undefined;
}): ScheduledPath {
  if (!s.baked) return { bake: false, build: "code" };
  if (s.last === "image") return { bake: false, build: "code" };
  return { bake: !s.fresh, build: "image" };
}

/** Decides the path of a scheduled drill and bakes when it must; a failed bake leaves the drill to code. */
export async function prepareScheduledDrill(options: {
  config: LifeboatConfig;
  policy: Policy;
  runbook: Runbook;
  logger?: Logger | undefined;
  signal?: AbortSignal | undefined;
}): Promise<BuildPreference> {
  const { config, policy, runbook } = options;
  const provider = openProvider(runbook.provider, config);
  const digest = await currentDigest(provider, runbook);
  if (!digest || !provider.bakedImages) return "code";
  const images = await provider.bakedImages(policy.host);
  const history = new HostHistory(catalogFor(config, policy.repository), policy.host);
  const lastDrill = reportOf(await history.newest("drill", { where: (r) => reportOf(r) !== undefined }));
  const path = scheduledPath({
    baked: images.length > 0,
    fresh: images.some((i) => i.digest === digest),
    last: lastDrill?.build?.from,
  });
  if (!path.bake) return path.build;
  try {
    await bakeHost({
      config,
      host: policy.host,
      runbook,
      trigger: "schedule",
      logger: options.logger,
      signal: options.signal,
    });
    return "image";
  } catch (err) {
    if (options.signal?.aborted) throw err;
    options.logger?.error(
      { host: policy.host, error: (err as Error).message },
      "the runbook changed and baking its image failed; the drill builds from code",
    );
    return "code";
  }
}
