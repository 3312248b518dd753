#!/usr/bin/env node
// The published entry point: the CLI is bundled into dist/lifeboat.js (`npm run build` in a checkout).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import module from "node:module";
import { fileURLToPath } from "node:url";

// Signals a supervisor sends (systemd's reload is SIGHUP, its stop SIGTERM, a terminal's Ctrl-C SIGINT).
const FORWARDED = ["SIGHUP", "SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  // A checkout carries Node 24 (the node@24 devDependency); use it rather than an end-of-life system Node.
  const node24 = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url));
  if (!existsSync(node24)) {
    process.stderr.write(
      `lifeboat needs Node.js 22 or newer (this is ${process.version}); run scripts/setup.sh\n`,
    );
    process.exit(5);
  }
  const child = spawn(node24, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, LIFEBOAT_LAUNCHER_PID: String(process.pid) },
  });
  // The launcher is only a relay: every signal goes to the child, and the child's end is the launcher's.
  for (const signal of FORWARDED) process.on(signal, () => child.kill(signal));
  child.on("error", (err) => {
    process.stderr.write(`lifeboat: cannot start ${node24}: ${err.message}\n`);
    process.exit(5);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      // Ended by a signal: end the same way, so the supervisor sees what really happened.
      for (const s of FORWARDED) process.removeAllListeners(s);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
} else {
  const launcher = Number(process.env.LIFEBOAT_LAUNCHER_PID);
  if (launcher) {
    delete process.env.LIFEBOAT_LAUNCHER_PID;
    // A launcher killed outright (SIGKILL) cannot forward anything: then stop as if told to, never run orphaned.
    const watch = setInterval(() => {
      if (process.ppid === launcher) return;
      clearInterval(watch);
      process.kill(process.pid, "SIGTERM");
    }, 1000);
    watch.unref();
  }
  // Start-up is a fixed cost on every scheduled snapshot: reuse V8's compiled code between runs.
  module.enableCompileCache?.();
  const { main } = await import("../dist/lifeboat.js");
  process.exitCode = await main(process.argv.slice(2));
}
