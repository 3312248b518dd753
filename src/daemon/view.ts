// What the daemon knows of each host, so that a watchdog round asks the catalog nothing about a host nothing
// happened to: a host is read again after one of the daemon's own runs of it ended, when what it knows is older
// than `refreshSeconds` (another controller, or a person's `lifeboat snapshot`, may have written since), and
// and when it is stale (which may be news of such a run: one listing of a key says whether anything was written
// since the host was read), at most every `probeSeconds`: at 500 stale hosts and a 30 s round, probing each every
// round queued the runs' own catalog requests behind 500 listings. Ages follow the clock without a read.
import pLimit from "p-limit";
import { HostHistory } from "../catalog/history.js";
import { catalogFor } from "../catalog/store.js";
import type { LifeboatConfig } from "../config/load.js";
import type { Policy } from "../policy/load.js";
import { HOSTS_AT_ONCE, type HostStatus, hostStatus, statusAt } from "../status/status.js";

interface Known {
  status: HostStatus;
  /** When the newest drill that ran started (a skipped one did not run). */
  lastDrillAt: string | undefined;
  readAt: number;
  /** The newest key of the host's runs when it was read: a run anyone started or ended since comes before it. */
  newestKey: string | undefined;
  /** When a stale host was last asked whether anything was written since (or read). */
  probedAt: number;
}

export class FleetView {
  private readonly known = new Map<string, Known>();
  private readonly touchedHosts = new Set<string>();
  /** Hosts read from the catalog in the last round, and stale ones only asked whether anything is new. */
  lastReads = 0;
  lastProbes = 0;

  constructor(
    private readonly refreshSeconds: number,
    /** How often a stale host is asked whether someone else (a person, another controller) wrote a run since. */
    private readonly probeSeconds = 0,
  ) {}

  /** One of this daemon's runs of `host` ended: the next round reads the host again. */
  touched(host: string): void {
    this.touchedHosts.add(host);
  }

  /**
   * Each policy's host as of `now`, in the policies' order; read from the catalog only where needed. `drilled`
   * says which hosts have scheduled drills (only theirs are asked about).
   */
  async hosts(
    config: LifeboatConfig,
    policies: readonly Policy[],
    now: Date,
    drilled: (host: string) => boolean,
  ): Promise<Array<Known & { policy: Policy }>> {
    const limit = pLimit(HOSTS_AT_ONCE);
    let reads = 0;
    let probes = 0;
    const out = await Promise.all(
      policies.map((policy) =>
        limit(async () => {
          const cached = this.known.get(policy.host);
          const aged = cached && { ...cached, status: statusAt(cached.status, now) };
          const current =
            aged &&
            !this.touchedHosts.has(policy.host) &&
            aged.status.target === policy.repository &&
            aged.status.rpoSeconds === policy.rpoSeconds &&
            now.getTime() - aged.readAt < this.refreshSeconds * 1000;
          if (current && aged.status.fresh) return { ...aged, policy };
          if (current && now.getTime() - aged.probedAt < this.probeSeconds * 1000) return { ...aged, policy };
          if (current) {
            // Stale as known: news only if someone wrote a run since (a listing of one key), else still stale.
            probes++;
            if ((await newestKey(config, policy)) === aged.newestKey) {
              const probed = { ...aged, probedAt: now.getTime() };
              this.known.set(policy.host, { ...probed, status: cached.status });
              return { ...probed, policy };
            }
          }
          reads++;
          // Cleared before the read: a run ending during it marks the host again for the next round.
          this.touchedHosts.delete(policy.host);
          const known = await readHost(config, policy, now, drilled(policy.host));
          this.known.set(policy.host, known);
          return { ...known, policy };
        }),
      ),
    );
    // Hosts whose policy went (a reload) are forgotten.
    const current = new Set(policies.map((p) => p.host));
    for (const host of this.known.keys()) if (!current.has(host)) this.known.delete(host);
    this.lastReads = reads;
    this.lastProbes = probes;
    return out;
  }
}

function newestKey(config: LifeboatConfig, policy: Policy): Promise<string | undefined> {
  return new HostHistory(catalogFor(config, policy.repository), policy.host).newestKey();
}

async function readHost(config: LifeboatConfig, policy: Policy, now: Date, drilled: boolean): Promise<Known> {
  const history = new HostHistory(catalogFor(config, policy.repository), policy.host);
  // First: a run written during the reads below then shows as news at the next round, never as nothing new.
  const newest = await history.newestKey();
  const [status, drill] = await Promise.all([
    hostStatus(config, policy, now),
    drilled ? history.newest("drill", { outcome: (o) => o !== "skipped" }) : undefined,
  ]);
  return {
    status,
    lastDrillAt: drill?.startedAt,
    readAt: now.getTime(),
    newestKey: newest,
    probedAt: now.getTime(),
  };
}
