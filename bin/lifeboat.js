#!/usr/bin/env node
// The published entry point: the compiled CLI lives in dist/ (run `npm run build` first in a checkout).
import module from "node:module";

// Start-up is a fixed cost on every scheduled snapshot: reuse V8's compiled code between runs.
module.enableCompileCache?.();
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
