// What each key may do in the bucket: a host's own key adds and reads its repository and removes only its locks;
// the controller's manages everything under the prefix. And a policy's own credentials only where they are used.
import { expect } from "vitest";
import { controllerIamPolicy, hostIamPolicy } from "../../src/admin/iam.js";
import type { S3TargetConfig } from "../../src/config/load.js";
import { loadPolicies } from "../../src/policy/load.js";
import { formatProblem } from "../../src/yaml/located.js";
import { test } from "../helpers/workspace.js";

const target = { type: "s3", name: "offsite", bucket: "acme", prefix: "lifeboat/prod" } as S3TargetConfig;

test("a host's key: its own repository only, no delete but its locks", () => {
  const p = hostIamPolicy(target, "web1");
  const actions = p.Statement.flatMap((s) => s.Action.map((a) => `${a} ${s.Resource}`));
  expect(actions).toEqual([
    "s3:ListBucket arn:aws:s3:::acme",
    "s3:GetObject arn:aws:s3:::acme/lifeboat/prod/web1/*",
    "s3:PutObject arn:aws:s3:::acme/lifeboat/prod/web1/*",
    "s3:DeleteObject arn:aws:s3:::acme/lifeboat/prod/web1/locks/*",
  ]);
  expect(p.Statement[0]?.Condition).toEqual({
    StringLike: { "s3:prefix": ["lifeboat/prod/web1", "lifeboat/prod/web1/*"] },
  });
  const c = controllerIamPolicy(target);
  expect(c.Statement[1]).toMatchObject({
    Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    Resource: "arn:aws:s3:::acme/lifeboat/prod/*",
  });
});

test("a policy's own S3 credentials: only for a remote host on an S3 target", async ({ ws }) => {
  await ws.writeConfig(
    "targets:\n  primary: { type: local }\n  offsite: { type: s3, bucket: acme }\ndefaults:\n  repository: offsite\n",
  );
  const creds = "credentials: { accessKeyIdEnv: WEB1_AK, secretAccessKeyEnv: WEB1_SK }\n";
  await ws.writePolicy(
    "web1.yaml",
    `host: web1\ntransport: { container: web1 }\n${creds}irreplaceable: [/srv]\n`,
  );
  await ws.writePolicy("db1.yaml", `host: db1\nrepository: primary\n${creds}irreplaceable: [/srv]\n`);
  await ws.writePolicy("app.yaml", `host: app\n${creds}irreplaceable: [/srv]\n`);
  const set = await loadPolicies(await ws.config(), ws.policiesDir, ws.root);
  expect(set.policies.map((p) => p.host)).toEqual(["web1"]);
  expect(set.policies[0]?.credentials).toEqual({ accessKeyIdEnv: "WEB1_AK", secretAccessKeyEnv: "WEB1_SK" });
  expect(set.problems.map(formatProblem)).toEqual([
    expect.stringMatching(
      /app\.yaml:2: credentials: these are for a restic on the host; with transport: local/,
    ),
    expect.stringMatching(
      /db1\.yaml:3: credentials: these are S3 credentials, but target "primary" is local/,
    ),
  ]);
});
