// bin/lifeboat.js under the system's older Node hands over to Node 24: it must relay every signal and the
// child's end, or a supervisor's reload (SIGHUP) kills the launcher and orphans the daemon, and a stop leaves
// the real work running. Run here as systemd would: the launcher is the main process, signalled by pid.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { expect, vi } from "vitest";
import { test, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 120_000 });

const BIN = path.resolve(import.meta.dirname, "../../bin/lifeboat.js");
const SYSTEM_NODE = "/usr/bin/node";

async function daemonConfig(ws: Workspace): Promise<void> {
  await ws.writeConfig(
    "targets:\n  primary: { type: local }\ndaemon:\n  listen: 127.0.0.1:0\n  watchdogInterval: 1s\n  shutdownGrace: 10s\n",
  );
  await ws.writeData({ "srv/a.txt": "a\n" });
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\nschedule: "0 0 1 1 *"\nirreplaceable: [${ws.data("srv")}]\n`,
  );
}

/** The launcher's child (the Node 24 process), from /proc. */
async function childOf(pid: number): Promise<number> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8")).trim().split(/\s+/);
  const child = Number(children[0]);
  if (!child) throw new Error(`launcher ${pid} has no child`);
  return child;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startLauncher(ws: Workspace, args: string[]) {
  const launcher = execa(SYSTEM_NODE, [BIN, ...args], {
    env: ws.env,
    reject: false,
    stdin: "ignore",
    forceKillAfterDelay: false,
  });
  let stderr = "";
  launcher.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return { launcher, stderr: () => stderr };
}

test("the system Node is older than 22 here, so the launcher really relays", async () => {
  const { stdout } = await execa(SYSTEM_NODE, ["--version"]);
  expect(Number(stdout.slice(1).split(".")[0])).toBeLessThan(22);
});

test("through the launcher: SIGHUP reloads the daemon, SIGTERM stops it with its exit code, no orphan", async ({
  ws,
}) => {
  await daemonConfig(ws);
  const { launcher, stderr } = startLauncher(ws, ["daemon"]);
  const pid = launcher.pid ?? 0;
  await until("the daemon to start", () => stderr().includes("daemon started"));
  const child = await childOf(pid);

  process.kill(pid, "SIGHUP");
  await until("the reload", () => stderr().includes("reloaded policies and runbooks"));
  expect(alive(pid)).toBe(true);

  process.kill(pid, "SIGTERM");
  const r = await launcher;
  expect(r.exitCode, stderr()).toBe(0);
  await until("the child to be gone", () => !alive(child), 5_000);
});

test("SIGINT through the launcher interrupts a command once (graceful), and a killed launcher orphans nothing", async ({
  ws,
}) => {
  await daemonConfig(ws);
  const first = startLauncher(ws, ["daemon"]);
  await until("the daemon to start", () => first.stderr().includes("daemon started"));
  process.kill(first.launcher.pid ?? 0, "SIGINT");
  const r = await first.launcher;
  // One SIGINT is a graceful stop (exit 0), not the second-signal exit (130).
  expect(r.exitCode, first.stderr()).toBe(0);
  expect(first.stderr()).toContain("daemon stopped");

  const second = startLauncher(ws, ["daemon"]);
  await until("the daemon to start", () => second.stderr().includes("daemon started"));
  const child = await childOf(second.launcher.pid ?? 0);
  process.kill(second.launcher.pid ?? 0, "SIGKILL");
  await second.launcher;
  // The child sees its launcher gone and stops as if told to.
  await until("the orphaned child to stop", () => !alive(child), 15_000);
});
