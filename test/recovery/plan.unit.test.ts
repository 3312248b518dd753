// Which snapshots one recovery restores: the files and the dumps of one snapshot run.
import { expect, test } from "vitest";
import type { Policy } from "../../src/policy/load.js";
import { chooseSnapshots } from "../../src/recovery/plan.js";
import type { Snapshot } from "../../src/restic/messages.js";

const policy = {
  host: "db1",
  entries: [{ path: "/srv/uploads", dataClass: "irreplaceable" }],
  databases: [{ engine: "postgres", databases: ["app"], options: [] }],
  exclude: [],
  snapshotTimeoutSeconds: 3600,
} as unknown as Policy;

const snap = (id: string, time: string, tags: string[]): Snapshot => ({
  id: `${id}${"0".repeat(56)}`,
  short_id: id.padEnd(8, "0"),
  time,
  hostname: "db1",
  paths: ["/x"],
  tags: ["lifeboat", ...tags],
});

const night1 = [
  snap("f1", "2026-11-25T02:30:00Z", ["run:a"]),
  snap("r1", "2026-11-25T02:31:00Z", ["dump:postgres.roles", "run:a"]),
  snap("d1", "2026-11-25T02:31:10Z", ["dump:postgres-app", "run:a"]),
];
const night2 = [
  snap("f2", "2026-11-26T02:30:00Z", ["run:b"]),
  snap("r2", "2026-11-26T02:31:00Z", ["dump:postgres.roles", "run:b"]),
  // the app dump failed that night
];

test("latest: the newest files snapshot and the dumps of its run; a dump that failed comes from the run before", () => {
  const chosen = chooseSnapshots([...night1, ...night2], "latest", policy);
  expect(chosen.files?.short_id).toBe("f2000000");
  expect(chosen.dumps.map((s) => s.short_id).sort()).toEqual(["d1000000", "r2000000"]);
});

test("a dump that failed comes from the newest run before that has it, not the oldest", () => {
  const night0 = [
    snap("f0", "2026-11-24T02:30:00Z", ["run:z"]),
    snap("d0", "2026-11-24T02:31:10Z", ["dump:postgres-app", "run:z"]),
  ];
  const chosen = chooseSnapshots([...night0, ...night1, ...night2], "latest", policy);
  expect(chosen.dumps.map((s) => s.short_id).sort()).toEqual(["d1000000", "r2000000"]);
});

test("an older snapshot id restores that night's files and dumps, never newer ones", () => {
  const chosen = chooseSnapshots([...night1, ...night2], "f1", policy);
  expect(chosen.files?.short_id).toBe("f1000000");
  expect(chosen.dumps.map((s) => s.short_id).sort()).toEqual(["d1000000", "r1000000"]);
});

test("snapshots from before run tags pair with the dumps that followed within the time limit", () => {
  const old = [
    snap("f0", "2026-11-20T02:30:00Z", []),
    snap("d0", "2026-11-20T02:40:00Z", ["dump:postgres-app"]),
    snap("dx", "2026-11-21T02:40:00Z", ["dump:postgres-app"]),
  ];
  const chosen = chooseSnapshots(old, "f0", policy);
  expect(chosen.dumps.map((s) => s.short_id)).toEqual(["d0000000"]);
});

test("a missing or ambiguous id is SNAPSHOT_NOT_FOUND", () => {
  expect(() => chooseSnapshots(night1, "zz", policy)).toThrow("has no snapshot zz");
  expect(() => chooseSnapshots([], "latest", policy)).toThrow("has no snapshots to recover from");
});
