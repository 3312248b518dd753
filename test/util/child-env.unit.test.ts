// Children see the machine's basics and what they are handed, never Lifeboat's whole environment: each kind of
// child prints its environment here, with recognisable secrets set in this process.
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { CommandProvider } from "../../src/provider/command.js";
import { runRestic } from "../../src/restic/process.js";
import { LocalTransport } from "../../src/transport/local.js";

const secrets = {
  SMTP_PASSWORD: `smtp-${randomBytes(8).toString("hex")}`,
  SHOP_DB_PASSWORD: `db-${randomBytes(8).toString("hex")}`,
  AWS_SECRET_ACCESS_KEY: `aws-${randomBytes(8).toString("hex")}`,
  CLOUD_TOKEN: `cloud-${randomBytes(8).toString("hex")}`,
};
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "lifeboat-env-"));
  Object.assign(process.env, secrets);
});
afterAll(async () => {
  for (const k of Object.keys(secrets)) delete process.env[k];
  await rm(dir, { recursive: true, force: true });
});

const leaked = (text: string): string[] => Object.values(secrets).filter((s) => text.includes(s));

test("a command on the local host gets the basics and its own variables only", async () => {
  const t = new LocalTransport("here");
  const r = await t.run(["env"], { env: { PGPASSWORD: "handed-to-it" } });
  expect(r.stdout).toMatch(/^PATH=/m);
  expect(r.stdout).toMatch(/^PGPASSWORD=handed-to-it$/m);
  expect(leaked(r.stdout)).toEqual([]);
  const launch = t.launch(["env"], { X: "1" });
  expect(Object.keys(launch.env ?? {})).not.toContain("SMTP_PASSWORD");
});

test("the command provider's create and destroy get LIFEBOAT_* and the variables the runbook names", async () => {
  const created = path.join(dir, "create.env");
  const destroyed = path.join(dir, "destroy.env");
  const provider = new CommandProvider(
    {
      kind: "command",
      create: `env > ${created}; echo address=192.0.2.10`,
      destroy: `env > ${destroyed}`,
      user: "root",
      timeoutSeconds: 30,
      env: ["CLOUD_TOKEN"],
    },
    { stateDir: path.join(dir, "state") },
  );
  const machine = await provider.create({ name: "m1", host: "h", runId: "abc123abc123", mode: "drill" });
  await machine.destroy();
  for (const file of [created, destroyed]) {
    const seen = await readFile(file, "utf8");
    expect(seen).toMatch(/^LIFEBOAT_NAME=m1$/m);
    expect(seen).toMatch(/^PATH=/m);
    expect(leaked(seen)).toEqual([secrets.CLOUD_TOKEN]);
  }
});

test("restic gets the repository and its credentials, and no other secret of Lifeboat's", async () => {
  const seen = path.join(dir, "restic.env");
  const restic = path.join(dir, "restic");
  await writeFile(restic, `#!/bin/sh\nenv > ${seen}\n`);
  await chmod(restic, 0o755);
  await runRestic(
    {
      binary: restic,
      repository: "s3:https://s3.example.org/bucket/web1",
      secretEnv: { AWS_SECRET_ACCESS_KEY: secrets.AWS_SECRET_ACCESS_KEY, RESTIC_PASSWORD_FILE: "/k" },
      secrets: [],
    },
    "snapshots",
    { args: [] },
  );
  const env = await readFile(seen, "utf8");
  expect(env).toMatch(/^RESTIC_REPOSITORY=s3:https:\/\/s3\.example\.org\/bucket\/web1$/m);
  expect(leaked(env)).toEqual([secrets.AWS_SECRET_ACCESS_KEY]);
});
