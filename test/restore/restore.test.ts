import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { jsonResult, runCli } from "../helpers/cli.js";
import { treeChecksums } from "../helpers/tree.js";
import { WEB1_IRREPLACEABLE, writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

interface Restored {
  snapshotId: string;
  target: string;
  files: number;
  bytes: number;
  verified: boolean;
}

test("a restore is byte-identical to the irreplaceable data and verified", async ({ ws }) => {
  await writeWeb1(ws, { "srv/app/uploads/big.bin": randomBytes(8 * 1024 * 1024) });
  const before = await treeChecksums(ws.data());
  const snap = jsonResult<{ snapshotId: string }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );

  const target = path.join(ws.root, "restored");
  const restored = jsonResult<Restored>(
    await runCli(["--json", "restore", "--host", "web1", "--target", target], ws.env),
  );
  expect(restored).toMatchObject({
    snapshotId: snap.snapshotId,
    verified: true,
    files: WEB1_IRREPLACEABLE.length + 1 + 2, // big.bin and a sentinel in each directory
  });

  // restic restores absolute paths below the target.
  const after = await treeChecksums(path.join(target, ws.data()));
  const expected = Object.fromEntries(
    [...WEB1_IRREPLACEABLE, "srv/app/uploads/big.bin"].map((f) => [f, before[f]]),
  );
  expect(after).toEqual(expected);
});

test("--snapshot picks an older snapshot by id prefix", async ({ ws }) => {
  await writeWeb1(ws);
  const first = jsonResult<{ snapshotId: string }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );
  await writeFile(ws.data("srv/app/uploads/logo.png"), "changed after the first snapshot");
  await runCli(["snapshot", "--host", "web1"], ws.env);

  const target = path.join(ws.root, "old");
  const r = await runCli(
    ["restore", "--host", "web1", "--snapshot", first.snapshotId.slice(0, 10), "--target", target],
    ws.env,
  );
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toContain(`restored snapshot ${first.snapshotId.slice(0, 8)} of web1`);
  const restored = await treeChecksums(path.join(target, ws.data()));
  expect(restored["srv/app/uploads/logo.png"]).not.toBe(
    (await treeChecksums(ws.data()))["srv/app/uploads/logo.png"],
  );
});

test("a restore refuses a non-empty target unless forced", async ({ ws }) => {
  await writeWeb1(ws);
  await runCli(["snapshot", "--host", "web1"], ws.env);
  const target = path.join(ws.root, "busy");
  await mkdir(target);
  await writeFile(path.join(target, "precious"), "do not overwrite");
  const refused = await runCli(["restore", "--host", "web1", "--target", target], ws.env);
  expect(refused.exitCode).toBe(2);
  expect(refused.stderr).toContain("RESTORE_TARGET_NOT_EMPTY");
  expect(refused.stderr).toContain("--force");
  const forced = await runCli(["restore", "--host", "web1", "--target", target, "--force"], ws.env);
  expect(forced.exitCode, forced.stderr).toBe(0);
});

test("restoring a host that was never snapshotted says there is no repository (exit 10)", async ({ ws }) => {
  await writeWeb1(ws);
  const r = await runCli(["restore", "--host", "web1", "--target", path.join(ws.root, "t")], ws.env);
  expect(r.exitCode).toBe(10);
  expect(r.stderr).toContain("REPOSITORY_MISSING");
  expect(r.stderr).toContain("lifeboat snapshot --host web1");
});

test("an unknown snapshot id says how to list them", async ({ ws }) => {
  await writeWeb1(ws);
  await runCli(["snapshot", "--host", "web1"], ws.env);
  const r = await runCli(
    ["restore", "--host", "web1", "--snapshot", "deadbeef", "--target", path.join(ws.root, "t")],
    ws.env,
  );
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("host web1 has no snapshot deadbeef");
  expect(r.stderr).toContain("lifeboat snapshots --host web1");
});

test("latest comes from the catalog, and from restic's list when the catalog is gone", async ({ ws }) => {
  await writeWeb1(ws);
  await runCli(["snapshot", "--host", "web1"], ws.env);
  await writeFile(ws.data("srv/app/uploads/logo.png"), "second version");
  const second = jsonResult<{ snapshotId: string }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );

  const viaCatalog = jsonResult<Restored>(
    await runCli(["--json", "restore", "--host", "web1", "--target", path.join(ws.root, "a")], ws.env),
  );
  expect(viaCatalog.snapshotId).toBe(second.snapshotId);

  const { rm } = await import("node:fs/promises");
  await rm(`${ws.home}/repositories/primary/_catalog`, { recursive: true });
  const viaRestic = jsonResult<Restored>(
    await runCli(["--json", "restore", "--host", "web1", "--target", path.join(ws.root, "b")], ws.env),
  );
  expect(viaRestic.snapshotId).toBe(second.snapshotId);
  expect(viaRestic.verified).toBe(true);
});
