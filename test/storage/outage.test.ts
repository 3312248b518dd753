import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { HostStatus } from "../../src/status/status.js";
import { jsonResult, runCli, startCli } from "../helpers/cli.js";
import { startS3Server } from "../helpers/s3/start.js";
import { writeWeb1 } from "../helpers/web1.js";
import { test } from "../helpers/workspace.js";

test("the S3 server dying mid-snapshot: bounded failure, no partial snapshot, recorded; the next run is clean", async ({
  ws,
}) => {
  const server = await startS3Server();
  ws.s3 = server;
  await ws.writeConfig(`targets:
  offsite:
    type: s3
    endpoint: ${server.endpoint}
    bucket: ${server.bucket}
    prefix: outage
    pathStyle: true
    caFile: ${server.caFile}
    outageTimeout: 4s
`);
  const big: Record<string, Buffer> = {};
  for (let i = 0; i < 50; i++) big[`srv/app/uploads/bulk/${i}.bin`] = randomBytes(4 * 1024 * 1024);
  await writeWeb1(ws, big);

  const child = startCli(["snapshot", "--host", "web1"], ws.env);
  let killedAt = 0;
  child.stderr?.on("data", (d: Buffer) => {
    if (!killedAt && d.toString().includes("snapshot started")) {
      killedAt = Date.now();
      setTimeout(() => server.kill(), 300);
    }
  });
  const r = await child;
  const seconds = (Date.now() - killedAt) / 1000;
  expect(killedAt).toBeGreaterThan(0);
  expect(r.exitCode, String(r.stderr)).toBe(8);
  expect(String(r.stderr)).toContain(
    "error [STORAGE_UNREACHABLE]: the storage stopped answering during restic backup",
  );
  expect(String(r.stderr)).toContain("could not write the run's end record; it is kept locally");
  // Bounded by the setting: given up within 5 s of outageTimeout (4 s) after the server died (0.3 s in).
  expect(seconds, `stopped ${seconds} s after the server died`).toBeLessThan(0.3 + 4 + 5);

  // The server comes back with the same data.
  const again = await startS3Server({
    dir: server.dir,
    port: server.port,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
  });
  try {
    expect(jsonResult<unknown[]>(await runCli(["--json", "snapshots"], ws.env))).toEqual([]);
    const [before] = jsonResult<HostStatus[]>({
      ...(await runCli(["--json", "status"], ws.env)),
      exitCode: 0,
    });
    expect(before?.lastRun).toMatchObject({
      kind: "snapshot",
      outcome: "failed",
      error: { code: "STORAGE_UNREACHABLE" },
    });

    const next = await runCli(["snapshot", "--host", "web1"], ws.env);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(jsonResult<unknown[]>(await runCli(["--json", "snapshots"], ws.env))).toHaveLength(1);
    const check = await runCli(["check"], ws.env);
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
  } finally {
    await again.stop();
  }
});
