// Builds the CLI the tests spawn (dist/), once per vitest run however many projects ask for it.
import { execa } from "execa";

const BUILT = Symbol.for("lifeboat.test.build");
type WithBuild = typeof globalThis & { [BUILT]?: Promise<unknown> };

export default async function setup(): Promise<void> {
  const g = globalThis as WithBuild;
  g[BUILT] ??= execa("npm", ["run", "-s", "build"], { stdio: "inherit" });
  await g[BUILT];
}
