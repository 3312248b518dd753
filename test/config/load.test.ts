import { expect } from "vitest";
import { EMBEDDED_TARGET, readConfig } from "../../src/config/load.js";
import { formatProblem } from "../../src/yaml/located.js";
import { test } from "../helpers/workspace.js";

test("without lifeboat.yaml the embedded local target is used, under LIFEBOAT_HOME", async ({ ws }) => {
  const { config, problems } = await readConfig({
    cwd: `${ws.root}/policies`,
    env: { LIFEBOAT_HOME: ws.home },
  });
  expect(problems).toEqual([]);
  expect(config?.file).toBeUndefined();
  expect(config?.defaults.repository).toBe(EMBEDDED_TARGET);
  expect(config?.targets.get(EMBEDDED_TARGET)).toEqual({
    name: EMBEDDED_TARGET,
    type: "local",
    path: `${ws.home}/repositories/local`,
    password: { kind: "file", path: `${ws.home}/keys/local.key` },
  });
});

test("lifeboat.yaml problems carry file:line too", async ({ ws }) => {
  await ws.writeConfig(`targets:
  primary: { type: s3 }
  second:
    type: local
    path: relative/dir
    passwordFile: /k
    passwordEnv: K
defaults:
  repository: third
  rpo: 2 days
`);
  const { problems } = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(problems.map(formatProblem)).toEqual([
    'lifeboat.yaml:2: targets.primary.type: type: must be "local" (S3 targets are not available yet)',
    "lifeboat.yaml:3: targets.second: set passwordFile or passwordEnv, not both",
    "lifeboat.yaml:5: targets.second.path: must be an absolute path",
    "lifeboat.yaml:10: defaults.rpo: must be a duration like 90s, 30m, 24h, 7d, 2w or 1h30m",
  ]);
});

test("a default repository that names no target is a problem", async ({ ws }) => {
  await ws.writeConfig(`targets:\n  primary: { type: local }\ndefaults:\n  repository: other\n`);
  const { problems } = await readConfig({ file: ws.configFile, cwd: ws.root, env: {} });
  expect(problems.map(formatProblem)).toEqual([
    'lifeboat.yaml:4: defaults.repository: unknown storage target "other"; targets: primary',
  ]);
});
