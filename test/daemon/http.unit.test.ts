// The daemon's HTTP endpoints: with a token, everything but /healthz wants it as a bearer token.
import { chmod, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { expect } from "vitest";
import { resolveToken, startHttp } from "../../src/daemon/http.js";
import { DaemonMetrics } from "../../src/daemon/metrics.js";
import { test } from "../helpers/workspace.js";

const health = { problem: () => undefined, details: () => ({}) };

test("with a token /metrics answers only to it; /healthz answers anyone", async () => {
  const token = "t0ken-t0ken-t0ken-t0ken";
  const server = await startHttp({ host: "127.0.0.1", port: 0 }, new DaemonMetrics(), health, token);
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const wrong = { authorization: "Bearer t0ken-t0ken-t0ken-t0keX" };
    expect((await fetch(`${base}/metrics`, { headers: wrong })).status).toBe(401);
    const right = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(right.status).toBe(200);
  } finally {
    server.close();
  }
});

test("a token that is missing, short or in a file others can read stops the daemon with what to do", async ({
  ws,
}) => {
  await expect(resolveToken({ kind: "env", variable: "T" }, {})).rejects.toMatchObject({
    code: "CREDENTIALS_MISSING",
  });
  await expect(resolveToken({ kind: "env", variable: "T" }, { T: "short" })).rejects.toMatchObject({
    code: "CREDENTIALS_MISSING",
  });
  const file = `${ws.root}/token`;
  await writeFile(file, "a-long-enough-token-value\n", { mode: 0o644 });
  await chmod(file, 0o644);
  await expect(resolveToken({ kind: "file", path: file })).rejects.toMatchObject({
    code: "PASSWORD_INSECURE",
  });
  await chmod(file, 0o600);
  expect(await resolveToken({ kind: "file", path: file })).toBe("a-long-enough-token-value");
});
