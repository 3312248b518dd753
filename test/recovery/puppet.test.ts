// A `puppet` step: Puppet installed from Debian's packages on the drill machine when it has none, the
// repository's manifest (and modules) applied there with the host's variables as facts; a manifest with an error
// fails the step with Puppet's own message.
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, containerRunbook, DB_IMAGE, sh, startContainerHost } from "../helpers/fleet.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 300_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
let ws: Workspace;
let app: ContainerHost;

const MANIFEST = `file { '/etc/app': ensure => directory }
file { '/etc/app/app.ini':
  ensure  => file,
  mode    => '0640',
  content => "host = \${facts['lifeboat_host']}\\nlisten = \${facts['lifeboat_address']}:8080\\n",
}
include motd_line
`;

const MODULE = `class motd_line {
  file { '/etc/motd': content => "built by puppet for \${facts['lifeboat_host']}\\n" }
}
`;

async function writeManifest(text: string): Promise<void> {
  await writeFile(path.join(ws.root, "runbooks/puppet/site.pp"), text);
}

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  app = await startContainerHost(`lbpp-app-${tag}`, DB_IMAGE);
  await sh(app.root, "mkdir -p /srv/data && echo precious > /srv/data/a.txt");
  await ws.writePolicy(
    "app.yaml",
    `host: app\ntransport: { container: ${app.name} }\nirreplaceable: [/srv/data]\n`,
  );
  await mkdir(path.join(ws.root, "runbooks/puppet/modules/motd_line/manifests"), { recursive: true });
  await writeFile(path.join(ws.root, "runbooks/puppet/modules/motd_line/manifests/init.pp"), MODULE);
  await writeManifest(MANIFEST);
  await writeFile(
    path.join(ws.root, "runbooks/app.yaml"),
    containerRunbook(
      "app",
      `steps:
  - puppet: { manifest: puppet/site.pp, modulePath: puppet/modules }
    timeout: 10m
  - restore
# Puppet comes from the Debian mirror on the isolated drill machine: the mirror is allowed while steps run.
drill: { allow: [deb.debian.org] }
checks:
  - command: grep -qx "listen = {{address}}:8080" /etc/app/app.ini && grep -qx "built by puppet for app" /etc/motd && test "$(stat -c %a /etc/app/app.ini)" = 640
    retries: 0
`,
    ),
  );
  const snap = await runCli(["snapshot", "--host", "app"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await app?.remove();
  await rm(ws.root, { recursive: true, force: true });
});

test("puppet is installed where absent and applies the manifest and its module with the host's facts", async () => {
  const report = jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", "app"], ws.env));
  expect(report.verdict).toBe("passed");
  expect(report.steps.map((s) => [s.name, s.status])).toEqual([
    ["puppet puppet/site.pp", "passed"],
    ["restore", "passed"],
  ]);
  expect(report.checks[0]?.status).toBe("passed");
});

test("a manifest with an error fails the step with Puppet's message, and the drill cleans up", async () => {
  await writeManifest(
    `${MANIFEST}file { '/etc/app/broken.ini': ensure => file, content => 'x', owner => 'nosuchuser' }\n`,
  );
  try {
    const r = await runCli(["--json", "drill", "--host", "app"], ws.env);
    expect(r.exitCode, r.stdout).toBe(1);
    const report = JSON.parse(r.stdout).error.details.outcome as RecoveryReport;
    expect(report.failure).toMatchObject({ phase: "configure", step: "puppet puppet/site.pp", exitCode: 6 });
    // Puppet's own error for the resource, and its summary of what changed and failed.
    expect(report.failure?.message).toMatch(/^Error: .*nosuchuser/);
    expect(report.failure?.message).toMatch(/resources: \d+ changed, 1 failed$/);
    expect(report.cleanup).toBe("removed");

    await writeManifest("file { '/etc/x': ensure => file, content => 'no closing brace'\n");
    const syntax = JSON.parse((await runCli(["--json", "drill", "--host", "app"], ws.env)).stdout).error
      .details.outcome as RecoveryReport;
    expect(syntax.failure).toMatchObject({ step: "puppet puppet/site.pp", exitCode: 1 });
    expect(syntax.failure?.message).toMatch(/^Error: Could not parse|^Error: .*[Ss]yntax error/);
  } finally {
    await writeManifest(MANIFEST);
  }
});
