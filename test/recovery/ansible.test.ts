// An `ansible` step: the playbook runs from this machine (Debian's ansible, podman connection) against the
// drill machine, with the host's variables; a failing task fails the step with Ansible's own summary.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, containerRunbook, DB_IMAGE, sh, startContainerHost } from "../helpers/fleet.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
let ws: Workspace;
let app: ContainerHost;

const ENV_FILE = `/tmp/lifeboat-ansible-env-${tag}`;
const PLAYBOOK = `- hosts: all
  gather_facts: false
  tasks:
    - name: what Ansible on the controller sees of Lifeboat's environment
      ansible.builtin.shell: env > ${ENV_FILE}
      delegate_to: localhost
      connection: local
    - name: the app's configuration, from the host's variables
      ansible.builtin.copy:
        dest: /etc/app/app.ini
        content: |
          host = {{ lifeboat.host }}
          listen = {{ lifeboat.address }}:{{ port }}
        mode: "0640"
`;

async function writeRunbook(playbook: string): Promise<void> {
  await writeFile(path.join(ws.root, "runbooks/ansible/app.yml"), playbook);
}

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  app = await startContainerHost(`lba-app-${tag}`, DB_IMAGE);
  await sh(app.root, "mkdir -p /srv/data && echo precious > /srv/data/a.txt");
  await ws.writePolicy(
    "app.yaml",
    `host: app\ntransport: { container: ${app.name} }\nirreplaceable: [/srv/data]\n`,
  );
  await mkdir(path.join(ws.root, "runbooks/ansible"), { recursive: true });
  await writeFile(
    path.join(ws.root, "runbooks/app.yaml"),
    containerRunbook(
      "app",
      `steps:
  - apt: [python3] # Ansible's modules run with the machine's Python
  - name: config dir
    shell: mkdir -p /etc/app
  - ansible: { playbook: ansible/app.yml, vars: { port: "8080" } }
  - restore
# Python comes from the Debian mirror on the isolated drill machine: the mirror is allowed while steps run.
drill: { allow: [deb.debian.org] }
checks:
  - command: grep -qx "listen = {{address}}:8080" /etc/app/app.ini && test "$(cat /srv/data/a.txt)" = precious
    retries: 0
`,
    ),
  );
  await writeRunbook(PLAYBOOK);
  const snap = await runCli(["snapshot", "--host", "app"], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await app?.remove();
  await rm(ws.root, { recursive: true, force: true });
});

test("a playbook configures the drill machine with the host's variables; it sees none of Lifeboat's secrets", async () => {
  const secret = `smtp-${randomBytes(8).toString("hex")}`;
  const report = jsonResult<RecoveryReport>(
    await runCli(["--json", "drill", "--host", "app"], { ...ws.env, SMTP_PASSWORD: secret }),
  );
  const seen = await readFile(ENV_FILE, "utf8");
  await rm(ENV_FILE, { force: true });
  expect(seen).toMatch(/^PATH=/m);
  expect(seen).not.toContain(secret);
  expect(seen).not.toContain("AWS_SECRET_ACCESS_KEY");
  expect(report.verdict).toBe("passed");
  expect(report.steps.map((s) => [s.name, s.status])).toEqual([
    ["apt python3", "passed"],
    ["config dir", "passed"],
    ["ansible ansible/app.yml", "passed"],
    ["restore", "passed"],
  ]);
  expect(report.checks[0]?.status).toBe("passed");
});

test("a failing task fails the step with Ansible's summary", async () => {
  await writeRunbook(
    `${PLAYBOOK}    - name: migrate the schema\n      ansible.builtin.command: sh -c "echo 'relation users does not exist' >&2; exit 4"\n`,
  );
  const r = await runCli(["--json", "drill", "--host", "app"], ws.env);
  expect(r.exitCode, r.stdout).toBe(1);
  const report = JSON.parse(r.stdout).error.details.outcome as RecoveryReport;
  expect(report.failure).toMatchObject({ phase: "configure", step: "ansible ansible/app.yml", exitCode: 2 });
  expect(report.failure?.message).toMatch(/^fatal: \[app-drill-\w+\]/);
  expect(report.failure?.message).toContain("failed=1");
  expect(report.failure?.outputTail).toContain("relation users does not exist");
  expect(report.cleanup).toBe("removed");
});

test("a step over its timeout is stopped and fails the drill, which still cleans up", async () => {
  await writeRunbook(PLAYBOOK);
  const file = path.join(ws.root, "runbooks/app.yaml");
  const runbook = await readFile(file, "utf8");
  await writeFile(
    file,
    runbook.replace("  - restore", "  - name: hangs\n    shell: sleep 300\n    timeout: 2s\n  - restore"),
  );
  try {
    const r = await runCli(["--json", "drill", "--host", "app"], ws.env);
    expect(r.exitCode, r.stdout).toBe(1);
    const report = JSON.parse(r.stdout).error.details.outcome as RecoveryReport;
    expect(report.failure).toMatchObject({
      step: "hangs",
      message: "did not finish within 2s and was stopped",
    });
    expect(report.steps.find((s) => s.name === "hangs")?.seconds).toBeLessThan(10);
    expect(report.cleanup).toBe("removed");
  } finally {
    await writeFile(file, runbook);
  }
});
