// A full disk under $LIFEBOAT_HOME (a small tmpfs, filled): the run ends with DISK_FULL naming what to free, no
// stack trace and no half-written record; once space is freed the next run succeeds and status is honest.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { execa } from "execa";
import { afterEach, expect } from "vitest";
import type { HostStatus } from "../../src/status/status.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

let mounted: string | undefined;
afterEach(async () => {
  if (mounted) await execa("umount", ["-l", mounted], { reject: false });
  mounted = undefined;
});

test("a full LIFEBOAT_HOME is DISK_FULL, leaves no broken record, and the next run after freeing space works", async ({
  ws,
}) => {
  await writeWeb1(ws);
  await mkdir(ws.home, { recursive: true });
  await execa("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", ws.home]);
  mounted = ws.home;
  // Everything but a few bytes taken.
  await execa("sh", ["-c", `dd if=/dev/zero of=${ws.home}/filler bs=64k 2>/dev/null; true`]);
  const full = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(full.exitCode, full.stderr).toBe(16);
  expect(full.stderr).toMatch(/error \[DISK_FULL\]: .*no space left/);
  expect(full.stderr).not.toMatch(/INTERNAL|\n\s+at /);

  await rm(`${ws.home}/filler`);
  const again = await runCli(["snapshot", "--host", "web1"], ws.env);
  expect(again.exitCode, again.stderr).toBe(0);
  const status = jsonResult<HostStatus[]>(await runCli(["--json", "status"], ws.env));
  expect(status[0]).toMatchObject({ host: "web1", fresh: true, healthy: true });
  // And the run after that too (no record left behind blocks a key).
  expect((await runCli(["snapshot", "--host", "web1"], ws.env)).exitCode).toBe(0);
  await writeFile(`${ws.home}/probe`, "space is back\n");
});
