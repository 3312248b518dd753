// A host's own key: `lifeboat init` gives a repository made before host keys one (the target's key stays), the
// old snapshots open and restore with it, and running init again adds no second one.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { expect, inject } from "vitest";
import { s3Location, s3ResticArgs } from "../../src/storage/s3-location.js";
import { runCli } from "../helpers/cli.js";
import { test } from "../helpers/workspace.js";

const s3 = inject("s3");

test("init migrates an existing repository to a host key; old snapshots restore with it", async ({ ws }) => {
  await ws.useS3(s3);
  await ws.writeData({ "srv/a.txt": "from before host keys\n" });
  // Snapshotted from this machine: the target's key only, as every repository was before host keys.
  await ws.writePolicy("web1.yaml", `host: web1\nirreplaceable: [${ws.data("srv")}]\n`);
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);

  const target = (await ws.config()).targets.get("offsite");
  if (target?.type !== "s3" || target.password.kind !== "file") throw new Error("expected s3 + key file");
  const masterKey = (await readFile(target.password.path, "utf8")).trim();
  const restic = (password: string, args: string[]) =>
    execa("restic", [...args, ...s3ResticArgs(target)], {
      reject: false,
      env: {
        RESTIC_REPOSITORY: s3Location(target, "web1"),
        RESTIC_PASSWORD: password,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      },
    });
  const keys = async () =>
    JSON.parse((await restic(masterKey, ["key", "list", "--json"])).stdout) as Array<{
      hostName: string;
      userName: string;
    }>;
  expect(await keys()).toHaveLength(1);

  // Now web1's restic runs on web1: init adds its key.
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\ntransport: { container: lb-not-started }\nirreplaceable: [${ws.data("srv")}]\n`,
  );
  const init = await runCli(["init"], ws.env);
  expect(init.exitCode, init.stderr).toBe(0);
  expect(await keys()).toEqual(
    expect.arrayContaining([expect.objectContaining({ hostName: "web1", userName: "lifeboat" })]),
  );
  expect(await keys()).toHaveLength(2);
  const hostKey = (await readFile(path.join(ws.home, "keys", "hosts", "web1.key"), "utf8")).trim();
  expect(hostKey).not.toBe(masterKey);

  const restored = path.join(ws.root, "restored");
  const r = await restic(hostKey, ["restore", "latest", "--target", restored]);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(await readFile(path.join(restored, ws.data("srv/a.txt")), "utf8")).toBe("from before host keys\n");

  // Once is enough: a second init finds the key proven and adds none.
  expect((await runCli(["init"], ws.env)).exitCode).toBe(0);
  expect(await keys()).toHaveLength(2);
});
