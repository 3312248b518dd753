// The integration tier's setup (after build-setup.ts): fails (never skips) when restic is missing or too old,
// builds the fleet's images once, and starts the shared S3 server.
import { rm } from "node:fs/promises";
import { execa } from "execa";
import type { TestProject } from "vitest/node";
import { isSupported, parseResticVersion } from "../../src/restic/binary.js";
import { ensureBaseImage, ensureDbImage, pinDefaultBridge } from "./fleet.js";
import { type S3ServerInfo, startS3Server } from "./s3/start.js";
import { ensureVmImage } from "./vm.js";

declare module "vitest" {
  export interface ProvidedContext {
    s3: S3ServerInfo;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let out = "";
  try {
    out = (await execa("restic", ["version"])).stdout;
  } catch {
    throw new Error("restic is not installed: the tests run the real restic. Run scripts/setup.sh first.");
  }
  const v = parseResticVersion(out);
  if (!v || !isSupported(v))
    throw new Error(`restic ${v?.join(".")} is too old for the tests; run scripts/setup.sh`);

  // On all addresses: container hosts reach it through the podman bridge.
  // Once, before any worker needs a container host: two workers must not build the image side by side.
  await ensureBaseImage();
  await ensureDbImage();
  await ensureVmImage();
  const unpin = await pinDefaultBridge();
  const s3 = await startS3Server({ address: "0.0.0.0" });
  const { stop, kill: _kill, ...info } = s3;
  project.provide("s3", info);
  return async () => {
    await unpin();
    await stop();
    await rm(s3.dir, { recursive: true, force: true });
  };
}
