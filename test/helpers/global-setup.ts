// Builds the CLI the tests spawn, and fails (never skips) when restic is missing or too old.
import { execa } from "execa";
import { isSupported, parseResticVersion } from "../../src/restic/binary.js";

export default async function setup(): Promise<void> {
  await execa("npm", ["run", "-s", "build"], { stdio: "inherit" });
  let out = "";
  try {
    out = (await execa("restic", ["version"])).stdout;
  } catch {
    throw new Error("restic is not installed: the tests run the real restic. Run scripts/setup.sh first.");
  }
  const v = parseResticVersion(out);
  if (!v || !isSupported(v))
    throw new Error(`restic ${v?.join(".")} is too old for the tests; run scripts/setup.sh`);
}
