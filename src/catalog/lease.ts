// A host's lease in its target's catalog: one run of a host at a time across controllers that share a bucket (the
// host lock only covers this controller). Without compare-and-swap on S3, each run writes its own lease object,
// then lists the host's leases: a run that sees anyone else's live lease withdraws its own and is HOST_BUSY. With
// read-after-write listings at most one run proceeds (whoever lists last sees the other); two that start at the
// same moment may both withdraw, and the daemon retries HOST_BUSY.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { targetOf } from "../storage/repository.js";
import { controllerIdIn } from "../util/controller-id.js";
import { type MalformedSink, parseCatalogJson } from "./read.js";
import { openCatalog } from "./store.js";
import type { CatalogStore } from "./types.js";

/** A lease claiming longer than this is not one of ours: a bucket writer must not block a host for good. */
const MAX_TTL_SECONDS = 7 * 24 * 3600;
/** How far ahead of our clock another controller's lease may start and still count (clock skew). */
const SKEW_SECONDS = 300;

const leaseSchema = z.object({
  version: z.literal(1),
  host: z.string(),
  controller: z.string(),
  machine: z.string(),
  pid: z.number(),
  what: z.string(),
  since: z.string(),
  expiresAt: z.string(),
});
export type Lease = z.infer<typeof leaseSchema>;

export interface LeaseOptions {
  /** The catalog itself, never the spool: a lease that was not written must not be taken for one. */
  catalog: CatalogStore;
  host: string;
  /** This controller's id: its own leases left by a run that died are stale once it holds the host lock. */
  controller: string;
  what: string;
  /** How long the lease holds if this run dies without removing it: the run's own time limit and a margin. */
  ttlSeconds: number;
  now?: () => Date;
  logger?: MalformedSink;
}

export interface HeldLease {
  key: string;
  /** Removes the lease; a failure leaves it to expire (or to this controller's next run) and is only logged. */
  release(): Promise<void>;
}

const prefixOf = (host: string): string => `leases/${host}/`;

/** Whether a lease read from the bucket still holds at `now`: expired, implausible or malformed ones do not. */
function live(lease: Lease, now: Date): boolean {
  const since = Date.parse(lease.since);
  const expires = Date.parse(lease.expiresAt);
  if (Number.isNaN(since) || Number.isNaN(expires)) return false;
  if (expires - since > MAX_TTL_SECONDS * 1000 || since > now.getTime() + SKEW_SECONDS * 1000) return false;
  return expires > now.getTime();
}

function busy(host: string, lease: Lease, key: string): LifeboatError {
  return new LifeboatError(
    "HOST_BUSY",
    `${host} is busy on another controller: ${lease.what} on ${lease.machine} (controller ${lease.controller}, pid ${lease.pid}) since ${lease.since}`,
    {
      hint: `Two controllers share this target's catalog. Wait for that run; if that controller is gone, its lease expires at ${lease.expiresAt}, or remove _catalog/${key} from the target.`,
      details: { lease: key, expiresAt: lease.expiresAt },
    },
  );
}

/** Takes the host's lease, or throws HOST_BUSY naming the run that holds it. */
export async function acquireLease(options: LeaseOptions): Promise<HeldLease> {
  const now = options.now ?? (() => new Date());
  const start = now();
  const token = randomBytes(6).toString("hex");
  const key = `${prefixOf(options.host)}${options.controller}_${token}.json`;
  const mine: Lease = {
    version: 1,
    host: options.host,
    controller: options.controller,
    machine: hostname(),
    pid: process.pid,
    what: options.what,
    since: start.toISOString(),
    expiresAt: new Date(start.getTime() + options.ttlSeconds * 1000).toISOString(),
  };
  const { catalog } = options;
  await catalog.put(key, JSON.stringify(mine));
  const release = async (): Promise<void> => {
    await catalog.remove(key).catch((err: unknown) => {
      options.logger?.warn(
        { lease: key, error: (err as Error).message },
        `could not remove the lease; it expires at ${mine.expiresAt}`,
      );
    });
  };
  try {
    for (const other of await catalog.list(prefixOf(options.host))) {
      if (other === key) continue;
      const text = await catalog.get(other);
      const lease =
        text === undefined ? undefined : parseCatalogJson(text, other, leaseSchema, options.logger);
      // Our own controller's other leases are from runs that died: the host lock says no other run of ours is on.
      const stale =
        !lease ||
        lease.host !== options.host ||
        lease.controller === options.controller ||
        !live(lease, now());
      if (!stale) throw busy(options.host, lease, other);
      if (lease) await catalog.remove(other).catch(() => {});
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { key, release };
}

/** Runs `fn` holding the host's lease. */
export async function withLease<T>(options: LeaseOptions, fn: () => Promise<T>): Promise<T> {
  const lease = await acquireLease(options);
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}

/** Takes `host`'s lease in the catalog of `targetName` for this controller (see acquireLease). */
export async function hostLease(
  config: LifeboatConfig,
  run: { targetName: string; host: string; what: string; ttlSeconds: number; logger?: MalformedSink },
): Promise<HeldLease> {
  return acquireLease({
    catalog: openCatalog(targetOf(config, run.targetName)),
    controller: await controllerIdIn(config.stateDir),
    ...run,
  });
}
