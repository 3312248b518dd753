import { writeFile } from "node:fs/promises";
import { expect, test as plain } from "vitest";
import { findRestic, isSupported, parseResticVersion } from "../../src/restic/binary.js";
import { openRepository } from "../../src/storage/repository.js";
import { test, type Workspace } from "../helpers/workspace.js";

async function repoWithTwoSnapshots(ws: Workspace) {
  await ws.writeData({ "a/one": "1" });
  await ws.writePolicy("h.yaml", `host: h\nirreplaceable: [${ws.data("a")}]\n`);
  const opened = await openRepository({
    config: await ws.config(),
    targetName: "primary",
    host: "h",
    create: true,
  });
  const backup = () =>
    opened.repo.backup({ paths: [ws.data("a")], excludes: [], host: "h", tags: ["lifeboat"] });
  const first = await backup();
  await writeFile(ws.data("a/two"), "2");
  const second = await backup();
  return { repo: opened.repo, first, second };
}

test("backup reports a summary; snapshots and ls see what it saved", async ({ ws }) => {
  const { repo, first, second } = await repoWithTwoSnapshots(ws);
  expect(first.summary).toMatchObject({ files_new: 1, total_files_processed: 1 });
  expect(second.summary).toMatchObject({ files_new: 1, files_unmodified: 1, total_files_processed: 2 });
  const snaps = await repo.snapshots({ host: "h", tags: ["lifeboat"] });
  expect(snaps.map((s) => s.id)).toEqual([first.snapshotId, second.snapshotId]);
  expect(snaps[1]?.summary?.total_files_processed).toBe(2);
  const names: string[] = [];
  await repo.ls(second.snapshotId, (n) => names.push(n.name));
  expect(names).toEqual(expect.arrayContaining(["one", "two"]));
});

test("forget with keep rules: a dry run removes nothing, a real one with prune does", async ({ ws }) => {
  const { repo, first, second } = await repoWithTwoSnapshots(ws);
  const dry = await repo.forget({
    host: "h",
    tags: ["lifeboat"],
    keep: { last: 1 },
    prune: true,
    dryRun: true,
  });
  expect(dry[0]?.remove?.map((s) => s.id)).toEqual([first.snapshotId]);
  expect((await repo.snapshots()).length).toBe(2);

  const real = await repo.forget({
    host: "h",
    tags: ["lifeboat"],
    keep: { last: 1 },
    prune: true,
    dryRun: false,
  });
  expect(real[0]?.keep?.map((s) => s.id)).toEqual([second.snapshotId]);
  expect((await repo.snapshots()).map((s) => s.id)).toEqual([second.snapshotId]);
});

/** restic check's own verdict, from its JSON summary line. */
function checkSummary(output: string): Record<string, unknown> | undefined {
  return output
    .split("\n")
    .map((l) => (l.startsWith("{") ? (JSON.parse(l) as Record<string, unknown>) : undefined))
    .find((m) => m?.message_type === "summary");
}

test("check reads a subset of the data; unlock succeeds on an unlocked repository", async ({ ws }) => {
  const { repo } = await repoWithTwoSnapshots(ws);
  const clean = { num_errors: 0, broken_packs: null, suggest_repair_index: false, suggest_prune: false };
  expect(checkSummary((await repo.check("1/2")).output)).toMatchObject(clean);
  expect(checkSummary((await repo.check()).output)).toMatchObject(clean);
  await expect(repo.unlock()).resolves.toBeUndefined();
});

plain("finds the real restic, recent enough", async () => {
  const found = await findRestic();
  expect(isSupported(parseResticVersion(`restic ${found.version}`) ?? [0, 0, 0])).toBe(true);
});

test("check fails with a typed error on a damaged repository", async ({ ws }) => {
  const { repo } = await repoWithTwoSnapshots(ws);
  const { readdir, truncate } = await import("node:fs/promises");
  const packs = (
    await readdir(`${ws.home}/repositories/primary/h/data`, { recursive: true, withFileTypes: true })
  ).filter((e) => e.isFile());
  const pack = packs[0];
  if (!pack) throw new Error("no pack files");
  await truncate(`${pack.parentPath}/${pack.name}`, 10);
  await expect(repo.check("1/1")).rejects.toMatchObject({ code: "RESTIC_FAILED", exitCode: 1 });
});
