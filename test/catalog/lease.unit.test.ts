// The lease between controllers sharing a bucket: at most one run of a host proceeds, whatever the interleaving;
// a dead run's lease stops counting at its expiry (or at once for its own controller); a lease a bucket writer
// forged with a far expiry does not block the host.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { acquireLease, type LeaseOptions } from "../../src/catalog/lease.js";
import { openCatalog } from "../../src/catalog/store.js";
import type { CatalogStore } from "../../src/catalog/types.js";
import type { TargetConfig } from "../../src/config/load.js";
import { isLifeboatError } from "../../src/errors.js";

let dir: string;
let catalog: CatalogStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "lease-"));
  catalog = openCatalog({ type: "local", name: "primary", path: dir } as TargetConfig);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const opts = (controller: string, extra: Partial<LeaseOptions> = {}): LeaseOptions => ({
  catalog,
  host: "web1",
  controller,
  what: "snapshot",
  ttlSeconds: 3600,
  ...extra,
});

const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "ok",
    (err: unknown) => (isLifeboatError(err) ? err.code : String(err)),
  );

/** A store whose `list` waits until `release` is called: to line up two runs' writes before either lists. */
function gatedList(inner: CatalogStore): { store: CatalogStore; open: () => void; waiting: Promise<void> } {
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  let arrived!: () => void;
  const waiting = new Promise<void>((r) => {
    arrived = r;
  });
  return {
    store: {
      put: (k, b) => inner.put(k, b),
      get: (k) => inner.get(k),
      remove: (k) => inner.remove(k),
      listPage: (p, page) => inner.listPage(p, page),
      list: async (p) => {
        arrived();
        await gate;
        return inner.list(p);
      },
    },
    open,
    waiting,
  };
}

describe("lease", () => {
  test("a second controller is HOST_BUSY and told who holds the host; free again after release", async () => {
    const a = await acquireLease(opts("aaaaaaaaaaaaaaaa"));
    const b = acquireLease(opts("bbbbbbbbbbbbbbbb"));
    await expect(b).rejects.toThrow(/web1 is busy on another controller: snapshot on .* \(controller aaaa/);
    // The loser withdrew: only the holder's lease is there.
    expect(await catalog.list("leases/web1/")).toEqual([a.key]);
    await a.release();
    expect(await catalog.list("leases/web1/")).toEqual([]);
    const again = await acquireLease(opts("bbbbbbbbbbbbbbbb"));
    await again.release();
  });

  test("two runs whose writes both land before either lists both withdraw; neither proceeds", async () => {
    const gateA = gatedList(catalog);
    const gateB = gatedList(catalog);
    const a = codeOf(acquireLease(opts("aaaaaaaaaaaaaaaa", { catalog: gateA.store })));
    const b = codeOf(acquireLease(opts("bbbbbbbbbbbbbbbb", { catalog: gateB.store })));
    await Promise.all([gateA.waiting, gateB.waiting]);
    gateA.open();
    gateB.open();
    expect([await a, await b]).toEqual(["HOST_BUSY", "HOST_BUSY"]);
    expect(await catalog.list("leases/web1/")).toEqual([]);
  });

  test("a run that lists before the other writes proceeds, and the other is busy", async () => {
    const first = await acquireLease(opts("aaaaaaaaaaaaaaaa"));
    expect(await codeOf(acquireLease(opts("bbbbbbbbbbbbbbbb")))).toBe("HOST_BUSY");
    await first.release();
  });

  test("an expired lease of a dead run stops counting, and is removed", async () => {
    const past = new Date(Date.now() - 7200_000);
    await acquireLease(opts("aaaaaaaaaaaaaaaa", { now: () => past, ttlSeconds: 600 })); // never released
    const b = await acquireLease(opts("bbbbbbbbbbbbbbbb"));
    expect(await catalog.list("leases/web1/")).toEqual([b.key]);
    await b.release();
  });

  test("this controller's own leftover lease is stale at once: its host lock says no run of ours is on", async () => {
    await acquireLease(opts("aaaaaaaaaaaaaaaa")); // a run that died without releasing
    const again = await acquireLease(opts("aaaaaaaaaaaaaaaa"));
    expect(await catalog.list("leases/web1/")).toEqual([again.key]);
    await again.release();
  });

  test("a forged lease with a far expiry, or one that does not parse, does not block the host", async () => {
    const now = new Date().toISOString();
    await catalog.put(
      "leases/web1/ffffffffffffffff_forged.json",
      JSON.stringify({
        version: 1,
        host: "web1",
        controller: "ffffffffffffffff",
        machine: "evil",
        pid: 1,
        what: "snapshot",
        since: now,
        expiresAt: "9999-01-01T00:00:00.000Z",
      }),
    );
    await catalog.put("leases/web1/eeeeeeeeeeeeeeee_junk.json", "{not json");
    const lease = await acquireLease(opts("aaaaaaaaaaaaaaaa", { logger: { warn: () => {} } }));
    await lease.release();
  });

  test("other hosts' leases do not matter", async () => {
    const other = await acquireLease(opts("aaaaaaaaaaaaaaaa", { host: "db1" }));
    const lease = await acquireLease(opts("bbbbbbbbbbbbbbbb"));
    await lease.release();
    await other.release();
  });
});
