import { lstat, readFile, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import { LifeboatError } from "../../src/errors.js";
import type { LsNode } from "../../src/restic/messages.js";
import { snapshot } from "../../src/snapshot/run.js";
import { openRepository } from "../../src/storage/repository.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { WEB1_IRREPLACEABLE, WEB1_SENTINELS, writeWeb1 } from "../helpers/web1.js";
import { test, type Workspace } from "../helpers/workspace.js";

async function filesInSnapshot(ws: Workspace, id: string): Promise<string[]> {
  const config = await ws.config();
  const { repo } = await openRepository({ config, targetName: "primary", host: "web1" });
  const nodes: LsNode[] = [];
  await repo.ls(id, (n) => nodes.push(n));
  return nodes
    .filter((n) => n.type === "file")
    .map((n) => path.relative(ws.data(), n.path))
    .sort();
}

test("a snapshot holds exactly the irreplaceable files, never a rebuildable or ignored one", async ({
  ws,
}) => {
  await writeWeb1(ws);
  const config = await ws.config();
  const outcome = await snapshot({ config, host: "web1" });
  expect(outcome.roots).toEqual([ws.data("srv/app/config/secrets"), ws.data("srv/app/uploads")]);
  // Plus the sentinel written into each irreplaceable directory just before the snapshot.
  expect(await filesInSnapshot(ws, outcome.snapshotId)).toEqual(
    [...WEB1_IRREPLACEABLE, ...WEB1_SENTINELS].sort(),
  );
  expect(outcome.totalFiles).toBe(WEB1_IRREPLACEABLE.length + 2);
  expect(outcome.tags).toEqual(expect.arrayContaining(["lifeboat", "host:web1"]));
  expect(outcome.tags.some((t) => /^policy:[0-9a-f]{12}$/.test(t))).toBe(true);
});

test("an irreplaceable path deep inside a rebuildable one inside an irreplaceable one is kept", async ({
  ws,
}) => {
  await ws.writeData({
    "db/data.bin": "irreplaceable",
    "db/cache/blob": "rebuildable",
    "db/cache/pinned/x/keep": "irreplaceable again",
    "db/cache/pinned/drop": "rebuildable",
  });
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\nirreplaceable: [${ws.data("db")}, ${ws.data("db/cache/pinned/x")}]\nrebuildable: [${ws.data("db/cache")}]\n`,
  );
  const outcome = await snapshot({ config: await ws.config(), host: "web1" });
  expect(await filesInSnapshot(ws, outcome.snapshotId)).toEqual([
    "db/.lifeboat-sentinel",
    "db/cache/pinned/x/keep",
    "db/data.bin",
  ]);
});

test("the CLI creates the repository and a 0600 key file on first use and says so once", async ({ ws }) => {
  await writeWeb1(ws);
  const first = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(first.exitCode, first.stderr).toBe(0);
  const keyFile = `${ws.home}/keys/primary.key`;
  expect(first.stdout).toContain(`NEW REPOSITORY KEY: ${keyFile}`);
  expect(first.stdout).toContain("If it is lost, the data is lost");
  expect((await stat(keyFile)).mode & 0o777).toBe(0o600);

  const second = jsonResult<{ createdKeyFile?: string; repositoryCreated: boolean; filesNew: number }>(
    await runCli(["--json", "snapshot", "--host", "web1"], ws.env),
  );
  expect(second.createdKeyFile).toBeUndefined();
  expect(second.repositoryCreated).toBe(false);
  expect(second.filesNew).toBe(0);

  const list = jsonResult<Array<{ host: string; files: number; bytesAdded: number }>>(
    await runCli(["--json", "snapshots", "--host", "web1"], ws.env),
  );
  expect(list).toHaveLength(2);
  expect(list[0]).toMatchObject({ host: "web1", files: WEB1_IRREPLACEABLE.length + 2 });
  const human = await runCli(["snapshots"], ws.env);
  expect(human.stdout).toMatch(/^HOST\s+ID\s+TIME\s+HOLDS\s+FILES\s+SIZE\s+ADDED$/m);
  expect(human.stdout).toMatch(/^web1\s+[0-9a-f]{8}\s+\S+ \S+\s+files\s+/m);
});

test("a missing irreplaceable path is an error, not an empty snapshot", async ({ ws }) => {
  await writeWeb1(ws);
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\nirreplaceable: [${ws.data("srv/app/uploads")}, ${ws.data("srv/gone")}]\n`,
  );
  const err = await snapshot({ config: await ws.config(), host: "web1" }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LifeboatError);
  expect(err).toMatchObject({
    code: "DATA_MISSING",
    exitCode: 4,
    details: { missing: [ws.data("srv/gone")] },
  });

  const cli = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(cli.exitCode).toBe(4);
  expect(cli.stderr).toContain(
    `error [DATA_MISSING]: irreplaceable data of web1 is missing: ${ws.data("srv/gone")}`,
  );
  expect(cli.stderr).toContain("No snapshot was taken");
  // Nothing was written: not even a repository.
  await expect(stat(`${ws.home}/repositories/primary/web1`)).rejects.toThrow();
});

test("an unknown host and an invalid policy stop the snapshot with exit code 2", async ({ ws }) => {
  await writeWeb1(ws);
  const unknown = await runCli(["snapshot", "--host", "db9"], ws.env);
  expect(unknown.exitCode).toBe(2);
  expect(unknown.stderr).toContain('no policy for host "db9"');
  expect(unknown.stderr).toContain("Hosts with a policy: web1");

  await ws.writePolicy("broken.yaml", "host: db1\nirreplaceable: [relative]\n");
  const invalid = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(invalid.exitCode).toBe(2);
  expect(invalid.stderr).toContain(
    'policies/broken.yaml:2: irreplaceable[0]: "relative" must be an absolute path',
  );
});

test("a missing irreplaceable path nested inside a root is caught too", async ({ ws }) => {
  await ws.writeData({ "db/data.bin": "x", "db/cache/blob": "y" });
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\nirreplaceable: [${ws.data("db")}, ${ws.data("db/cache/pinned")}]\nrebuildable: [${ws.data("db/cache")}]\n`,
  );
  const err = await snapshot({ config: await ws.config(), host: "web1" }).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: "DATA_MISSING", details: { missing: [ws.data("db/cache/pinned")] } });
});

test("an irreplaceable path that is a symlink is refused: restic would keep the link, not the data", async ({
  ws,
}) => {
  await ws.writeData({ "real/uploads/a.png": "data" });
  const { symlink } = await import("node:fs/promises");
  await symlink(ws.data("real/uploads"), ws.data("uploads"));
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [${ws.data("uploads")}]\n`);
  const r = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain(`${ws.data("uploads")} -> ${ws.data("real/uploads")}`);
  expect(r.stderr).toContain("List the real paths");
});

test("a sentinel that is a link or a FIFO is never followed or opened: refused, reported, the snapshot goes on", async ({
  ws,
}) => {
  await writeWeb1(ws);
  // Whoever owns the uploads directory (the app) plants a link to a file root owns, and a FIFO.
  await ws.writeData({ "etc/x": "root's file\n" });
  await symlink(ws.data("etc/x"), ws.data("srv/app/uploads/.lifeboat-sentinel"));
  await execa("mkfifo", [ws.data("srv/app/config/secrets/.lifeboat-sentinel")]);
  const r = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(await readFile(ws.data("etc/x"), "utf8")).toBe("root's file\n");
  expect(r.stderr).toContain(".lifeboat-sentinel there is a link, a hard link or not a regular file");
  expect(r.stderr).toContain(ws.data("srv/app/uploads"));
  expect(r.stderr).toContain(ws.data("srv/app/config/secrets"));
  expect((await lstat(ws.data("srv/app/uploads/.lifeboat-sentinel"))).isSymbolicLink()).toBe(true);
});

test("a run whose key does not open the repository leaves the sentinels as they were", async ({ ws }) => {
  await writeWeb1(ws);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  const sentinel = ws.data("srv/app/uploads/.lifeboat-sentinel");
  const before = await readFile(sentinel, "utf8");
  const target = (await ws.config()).targets.get("primary");
  if (target?.password.kind !== "file") throw new Error("expected a key file");
  await writeFile(target.password.path, "not the key of this repository\n");
  const r = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(r.exitCode, r.stderr).toBe(12);
  expect(r.stderr).toContain(`key file ${target.password.path}`);
  // The live data still says when it was last saved, not when a run last failed to save it.
  expect(await readFile(sentinel, "utf8")).toBe(before);
});
