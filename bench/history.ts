// Generated catalog history in the catalog's real keys and records (what putRecord writes: record, then index
// entries), written straight into the S3 test server's directory: a year of PUTs would take an hour.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { indexedMarker, indexKeys, runKey } from "../src/catalog/keys.ts";

const DAY = 86_400_000;

/** What each generated snapshot saved (the guard compares a new snapshot with the newest good one). */
export interface SavedSize {
  files: number;
  bytes: number;
}

/** A drill's report as the recovery writes it (the digest must find one for every host, or its bench fails). */
function drillReport(host: string, id: string, startedAt: string): unknown {
  return {
    version: 2,
    runId: id,
    mode: "drill",
    trigger: "schedule",
    host,
    verdict: "passed",
    warnings: [],
    withData: true,
    startedAt,
    finishedAt: startedAt,
    machine: `${host}-drill-${id}`,
    provider: "container",
    dumps: [],
    rpo: { targetSeconds: 86400, snapshotAgeSeconds: 3600, met: true, items: [] },
    isolation: { enforced: true, detail: "nftables" },
    rto: { targetSeconds: 900, seconds: 42, met: true },
    phases: [{ name: "provision", status: "passed", seconds: 1 }],
    steps: [],
    checks: [],
    cleanup: "removed",
    resticVersion: "0.18.0",
    lifeboatVersion: "0.1.0",
  };
}

/**
 * `perHost` run records (starts and ends) for each host, its newest ending now: a nightly snapshot and its
 * prune, a weekly check and drill with its report, one failed snapshot a month. `catalogDir` is the catalog's
 * prefix inside the server's bucket directory.
 */
export function writeHistory(
  catalogDir: string,
  hosts: readonly string[],
  perHost: number,
  saved: SavedSize = { files: 1200, bytes: 5e8 },
): void {
  const madeDirs = new Set<string>();
  // The way s3rver keeps an object: its body in `<key>._S3rver_object` (the rest it makes when asked).
  const put = (key: string, body: string) => {
    const file = path.join(catalogDir, `${key}._S3rver_object`);
    const d = path.dirname(file);
    if (!madeDirs.has(d)) {
      mkdirSync(d, { recursive: true });
      madeDirs.add(d);
    }
    writeFileSync(file, body);
  };
  const now = Date.now();
  hosts.forEach((host, h) => {
    let written = 0;
    // From today back, so that every host's history ends now whatever its length.
    for (let d = 0; written < perHost; d++) {
      const base = now - d * DAY - DAY / 2 + h * 1000;
      const runs: Array<[string, number]> = [
        ["snapshot", 0],
        ["prune", 60_000],
      ];
      if (d % 7 === 3) runs.push(["check", 3_600_000], ["drill", 7_200_000]);
      for (const [kind, offset] of runs) {
        const startedAt = new Date(base + offset).toISOString();
        const id = randomBytes(6).toString("hex");
        const failed = kind === "snapshot" && d % 30 === 17;
        const common = {
          version: 1,
          id,
          host,
          kind,
          trigger: "schedule",
          startedAt,
          lifeboatVersion: "0.1.0",
        };
        const start = { ...common, phase: "start", outcome: "running" } as const;
        const end = {
          ...common,
          phase: "end",
          finishedAt: new Date(base + offset + 30_000).toISOString(),
          outcome: failed ? "failed" : "succeeded",
          ...(failed ? { error: { code: "STORAGE_UNREACHABLE", message: "generated" } } : {}),
          ...(kind === "snapshot" && !failed
            ? {
                snapshotId: randomBytes(32).toString("hex"),
                totalFiles: saved.files,
                totalBytes: saved.bytes,
                bytesAdded: 1e6,
              }
            : {}),
          ...(kind === "check" ? { details: { slice: (d % 4) + 1, slices: 4 } } : {}),
          ...(kind === "drill" ? { details: { report: drillReport(host, id, startedAt) } } : {}),
        } as const;
        for (const r of [start, end]) {
          put(runKey(r), JSON.stringify(r));
          for (const k of indexKeys(r)) put(k, "{}");
        }
        written += 2;
      }
    }
    put(indexedMarker(host), '{"version":1}');
  });
}
