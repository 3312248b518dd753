#!/usr/bin/env node
// The published entry point: the CLI is bundled into dist/lifeboat.js (`npm run build` in a checkout).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import module from "node:module";
import { fileURLToPath } from "node:url";

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
  const r = spawnSync(node24, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(r.status ?? 130);
}

// Start-up is a fixed cost on every scheduled snapshot: reuse V8's compiled code between runs.
module.enableCompileCache?.();
const { main } = await import("../dist/lifeboat.js");
process.exitCode = await main(process.argv.slice(2));
