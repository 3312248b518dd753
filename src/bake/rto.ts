// The RTO of each path that builds a host's machine, from the catalog: the report of a recovery from an image sets
// it beside the last one from code ("RTO 9s from image / 48s from code"), and the other way round.
import { HostHistory } from "../catalog/history.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import type { Policy } from "../policy/load.js";
import { reportOf } from "../report/find.js";

/** How many of the newest passed drills and recoveries are read, at most, to find one along a path. */
const LOOK_BACK = 20;

export interface PathRto {
  from: "code" | "image";
  seconds: number;
  runId: string;
  at: string;
}

/** The newest passed drill or recovery of the host built along `from`, among the newest few; undefined if none. */
export async function lastRtoAlong(
  config: LifeboatConfig,
  policy: Policy,
  from: "code" | "image",
): Promise<PathRto | undefined> {
  const history = new HostHistory(catalogFor(config, policy.repository), policy.host);
  let best: PathRto | undefined;
  for (const kind of ["drill", "recovery"] as const) {
    let read = 0;
    for await (const record of history.ends(kind, { succeeded: true, firstPage: 10 })) {
      if (++read > LOOK_BACK) break;
      const report = reportOf(record);
      // Reports from before baked images were built from code.
      if (!report || (report.build?.from ?? "code") !== from || !report.withData) continue;
      if (!best || report.startedAt > best.at)
        best = { from, seconds: report.rto.seconds, runId: report.runId, at: report.startedAt };
      break;
    }
  }
  return best;
}
