// The everyday requests: one file or directory back (beside, or in place without losing what is there), and
// browsing snapshots (ls, find, diff) — against real snapshots of a local host.
import { randomBytes } from "node:crypto";
import { readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import type { Difference, FindHit, Listing } from "../../src/browse/browse.js";
import type { PathRestoreOutcome } from "../../src/restore/path.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test, type Workspace } from "../helpers/workspace.js";

const invoice = "srv/app/uploads/docs/invoice-2026-11.pdf";

/** web1 with an invoice, snapshotted; then the invoice changed and a new file added, snapshotted again. */
async function twoSnapshots(ws: Workspace) {
  const original = randomBytes(20_000);
  await writeWeb1(ws, { [invoice]: original });
  const first = jsonResult<{ snapshotId: string }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );
  await writeFile(ws.data(invoice), "overwritten by a bug");
  await writeFile(ws.data("srv/app/uploads/new.txt"), "new since the first snapshot");
  await rm(ws.data("srv/app/uploads/empty.txt"));
  const second = jsonResult<{ snapshotId: string }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );
  return { original, first: first.snapshotId, second: second.snapshotId };
}

/** `lifeboat restore --host web1 --path P ...` as the terminal shows it (add "--json" for the result). */
const restorePath = (ws: Workspace, p: string, ...more: string[]) =>
  runCli(["restore", "--host", "web1", "--path", p, ...more], ws.env);
/** The same, its JSON result. */
const restoredPath = async (ws: Workspace, p: string, ...more: string[]) =>
  jsonResult<PathRestoreOutcome>(
    await runCli(["--json", "restore", "--host", "web1", "--path", p, ...more], ws.env),
  );

test("restore --path: one file into a directory, then in place (a newer file only with --force, kept beside)", async ({
  ws,
}) => {
  const { original, first } = await twoSnapshots(ws);
  const file = ws.data(invoice);

  // Beside: into a directory under its own name, the live file untouched.
  const into = path.join(ws.root, "got-back");
  const old = first.slice(0, 8);
  const beside = await restoredPath(ws, file, "--snapshot", old, "--target", into);
  expect(beside).toMatchObject({ type: "file", files: 1, bytes: 20_000, verified: true, where: "here" });
  expect(await readFile(path.join(into, "invoice-2026-11.pdf"))).toEqual(original);
  expect(await readFile(file, "utf8")).toBe("overwritten by a bug");
  // Only the file, and no scratch directory left behind.
  expect(await readdir(into)).toEqual(["invoice-2026-11.pdf"]);

  // In place: the live file was changed after the snapshot's copy, so it is refused and nothing changes.
  const refused = await restorePath(ws, file, "--snapshot", old, "--in-place");
  expect(refused.exitCode, refused.stderr).toBe(2);
  expect(refused.stderr).toContain("RESTORE_TARGET_NEWER");
  expect(refused.stderr).toContain("nothing was replaced");
  expect(await readFile(file, "utf8")).toBe("overwritten by a bug");
  expect((await readdir(path.dirname(file))).filter((f) => f.includes("lifeboat-"))).toEqual([]);

  // --force: put back, and what was there kept beside it.
  const forced = await restoredPath(ws, file, "--snapshot", old, "--in-place", "--force");
  expect(forced).toMatchObject({ where: "host", restoredTo: file, verified: true });
  expect(await readFile(file)).toEqual(original);
  expect(forced.kept).toMatch(/invoice-2026-11\.pdf\.lifeboat-\d{8}T\d{6}Z$/);
  expect(await readFile(forced.kept ?? "", "utf8")).toBe("overwritten by a bug");
});

test("restore --path in place: a deleted directory comes back whole; an older live file is replaced without --force", async ({
  ws,
}) => {
  await twoSnapshots(ws);
  const docs = ws.data("srv/app/uploads/docs");
  const before = await readdir(docs);
  await rm(docs, { recursive: true });
  const r = await restoredPath(ws, docs, "--in-place");
  expect(r).toMatchObject({ type: "dir", files: before.length });
  expect(r.kept).toBeUndefined();
  expect((await readdir(docs)).sort()).toEqual(before.sort());

  // A live file older than the snapshot's copy is not newer: replaced (and still kept beside).
  const logo = ws.data("srv/app/uploads/logo.png");
  const saved = await readFile(logo);
  await writeFile(logo, "stale");
  await utimes(logo, new Date("2020-01-01"), new Date("2020-01-01"));
  const older = await restoredPath(ws, logo, "--in-place");
  expect(await readFile(logo)).toEqual(saved);
  expect(older.kept).toBeDefined();

  // A path the snapshot does not hold: a clear error, exit 2.
  const missing = await restorePath(
    ws,
    ws.data("srv/app/uploads/nope.jpg"),
    "--target",
    path.join(ws.root, "x"),
  );
  expect(missing.exitCode).toBe(2);
  expect(missing.stderr).toContain("PATH_NOT_IN_SNAPSHOT");
  expect(missing.stderr).toContain("lifeboat ls --host web1");
});

test("ls, find and diff against real snapshots", async ({ ws }) => {
  const { first, second } = await twoSnapshots(ws);
  const uploads = ws.data("srv/app/uploads");

  const ls = jsonResult<Listing>(
    await runCli(["--json", "ls", "--host", "web1", "--snapshot", first.slice(0, 8), uploads], ws.env),
  );
  expect(ls.snapshot.id).toBe(first);
  expect(ls.entries.map((e) => path.basename(e.path)).sort()).toEqual(
    [".lifeboat-sentinel", "docs", "empty.txt", "logo.png"].sort(),
  );
  expect(ls.entries.find((e) => e.path.endsWith("logo.png"))).toMatchObject({
    type: "file",
    size: 64 * 1024,
  });
  const text = await runCli(["ls", "--host", "web1", "--recursive", uploads], ws.env);
  expect(text.stdout).toContain(`${uploads}/docs/invoice-2026-11.pdf`);
  expect(text.stdout).toContain("new.txt");

  // find: both snapshots hold the invoice, newest first, with the size each had.
  const hits = jsonResult<FindHit[]>(
    await runCli(["--json", "find", "--host", "web1", "invoice-*.pdf"], ws.env),
  );
  expect(hits.map((h) => h.snapshot.id)).toEqual([second, first]);
  expect(hits.map((h) => h.matches[0]?.size)).toEqual(["overwritten by a bug".length, 20_000]);
  const none = await runCli(["find", "--host", "web1", "nothing-like-this"], ws.env);
  expect(none.stdout).toContain("no snapshot of web1 holds nothing-like-this");

  const d = jsonResult<Difference>(
    await runCli(["--json", "diff", "--host", "web1", first.slice(0, 8), second.slice(0, 8)], ws.env),
  );
  expect(d.added.map((a) => [path.basename(a.path), a.size])).toEqual([
    ["new.txt", "new since the first snapshot".length],
  ]);
  expect(d.removed.map((a) => [path.basename(a.path), a.size])).toEqual([["empty.txt", 0]]);
  const changed = d.changed.find((c) => c.path.endsWith("invoice-2026-11.pdf"));
  expect(changed).toMatchObject({
    change: "content",
    sizeBefore: 20_000,
    sizeAfter: "overwritten by a bug".length,
  });
  const shown = await runCli(["diff", "--host", "web1", first.slice(0, 8), "latest"], ws.env);
  expect(shown.stdout).toMatch(/1 added, 1 removed, \d+ changed/);
});
