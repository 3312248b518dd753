// A snapshot of a command's output (how database dumps are taken): streamed by restic itself, nothing saved
// when the command fails, and restic's secrets never handed to the command.
import { readFile } from "node:fs/promises";
import { expect } from "vitest";
import { openRepository } from "../../src/storage/repository.js";
import { test, type Workspace } from "../helpers/workspace.js";

async function open(ws: Workspace) {
  await ws.writePolicy("db1.yaml", `host: db1\nirreplaceable: [/srv]\n`);
  const config = await ws.config();
  return (await openRepository({ config, targetName: "primary", host: "db1", create: true })).repo;
}

test("a command's output becomes one file of a snapshot; restic's secrets are not in its environment", async ({
  ws,
}) => {
  const repo = await open(ws);
  const result = await repo.backupFromCommand({
    command: ["sh", "-c", 'echo "-- dump of app"; env'],
    filename: "postgres-app.sql",
    host: "db1",
    tags: ["lifeboat", "host:db1"],
  });
  expect(result.summary).toMatchObject({ files_new: 1, total_files_processed: 1 });
  const [snapshot] = await repo.snapshots({ host: "db1" });
  expect(snapshot?.paths).toEqual(["/postgres-app.sql"]);
  await repo.restore({ snapshot: result.snapshotId, target: `${ws.root}/r` });
  const dump = await readFile(`${ws.root}/r/postgres-app.sql`, "utf8");
  expect(dump.startsWith("-- dump of app\n")).toBe(true);
  // The command really ran with an environment (PATH), but without the repository's password or location.
  expect(dump).toMatch(/^PATH=/m);
  expect(dump).not.toMatch(
    /^(RESTIC_PASSWORD|RESTIC_PASSWORD_FILE|RESTIC_REPOSITORY|AWS_SECRET_ACCESS_KEY)=/m,
  );
  const key = (await readFile(`${ws.home}/keys/primary.key`, "utf8")).trim();
  expect(dump).not.toContain(key);
});

test("a command that fails midway saves no snapshot, and the error carries its own words", async ({ ws }) => {
  const repo = await open(ws);
  await expect(
    repo.backupFromCommand({
      command: [
        "sh",
        "-c",
        "echo 'CREATE TABLE half'; sleep 0.2; echo 'connection to server lost' >&2; exit 3",
      ],
      filename: "postgres-app.sql",
      host: "db1",
      tags: ["lifeboat"],
    }),
  ).rejects.toMatchObject({
    code: "DUMP_FAILED",
    exitCode: 1,
    message:
      "sh failed (exit status 3); no snapshot of postgres-app.sql was saved: connection to server lost",
  });
  await expect(
    repo.backupFromCommand({ command: ["no-such-dump-program"], filename: "x.sql", host: "db1", tags: [] }),
  ).rejects.toMatchObject({ code: "DUMP_FAILED" });
  expect(await repo.snapshots({ host: "db1" })).toEqual([]);
});
