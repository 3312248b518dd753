// Baked images (container provider): `bake` saves the runbook's machine up to `restore`; a drill starts from it
// while its digest is the runbook's (the baked steps do not run again, templates are rendered for the new
// machine), says so in the plan and the report, and builds from code once the runbook changed.
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { BakeResult } from "../../src/bake/run.js";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { reportText } from "../../src/report/render.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { type ContainerHost, containerRunbook, sh, startContainerHost } from "../helpers/fleet.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 300_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const host = `bk${tag}`;
let ws: Workspace;
let production: ContainerHost;

const steps = (extra = "") => `steps:
  - name: install the app
    shell: mkdir -p /opt/app && echo "installed" >> /opt/app/installs
${extra}  - templates:
      /etc/app/whoami: whoami.tmpl
  - restore
checks:
  - name: the app was installed once
    command: test "$(cat /opt/app/installs)" = installed
  - name: the template names this machine
    command: test "$(cat /etc/app/whoami)" = "$(hostname)"
  - name: the data is back
    command: grep -q "kept ${tag}" /srv/data/notes.txt
`;

async function writeRunbook(extra = ""): Promise<void> {
  await writeFile(path.join(ws.root, `runbooks/${host}.yaml`), containerRunbook(host, steps(extra)));
}

const drill = async (...flags: string[]) =>
  jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", host, ...flags], ws.env));

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  production = await startContainerHost(`lbk-${tag}`);
  await sh(production.root, `mkdir -p /srv/data && echo "kept ${tag}" > /srv/data/notes.txt`);
  await ws.writePolicy(
    `${host}.yaml`,
    `host: ${host}\ntransport: { container: ${production.name} }\nirreplaceable: [/srv/data]\n`,
  );
  await mkdir(path.join(ws.root, "runbooks"), { recursive: true });
  await writeFile(path.join(ws.root, "runbooks/whoami.tmpl"), "{{name}}\n");
  await writeRunbook();
  const snap = await runCli(["snapshot", "--host", host], ws.env);
  expect(snap.exitCode, snap.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await production?.remove();
  const images = await execa("podman", ["images", "--format", "{{.Repository}}:{{.Tag}}"], { reject: false });
  for (const ref of String(images.stdout).split("\n"))
    if (ref.includes(`lifeboat-baked/${host}:`)) await execa("podman", ["rmi", "-f", ref], { reject: false });
  await rm(ws.root, { recursive: true, force: true });
});

test("bake, then drills from the image while it is fresh, and from code once the runbook changed", async () => {
  // No image yet: from code, and the plan says how to get one.
  const first = await drill();
  expect(first.verdict).toBe("passed");
  expect(first.build).toMatchObject({
    from: "code",
    why: expect.stringContaining(`lifeboat bake --host ${host}`),
  });

  const baked = jsonResult<BakeResult>(await runCli(["--json", "bake", "--host", host], ws.env));
  expect(baked).toMatchObject({ status: "baked", digest: expect.stringMatching(/^[0-9a-f]{16}$/) });
  expect(baked.image.ref).toBe(`localhost/lifeboat-baked/${host}:${baked.digest}`);
  expect((await execa("podman", ["image", "exists", baked.image.ref], { reject: false })).exitCode).toBe(0);
  // Nothing of the bake machine is left.
  const left = await execa("podman", ["ps", "-a", "--format", "{{.Names}}"]);
  expect(left.stdout).not.toContain(`${host}-bake-`);
  // A second bake of the same runbook makes nothing.
  const again = jsonResult<BakeResult>(await runCli(["--json", "bake", "--host", host], ws.env));
  expect(again).toMatchObject({ status: "fresh", digest: baked.digest });

  const plan = await runCli(["drill", "--host", host, "--dry-run"], ws.env);
  expect(plan.stderr).toContain(`build:    from image ${baked.digest}`);
  expect(plan.stderr).toMatch(/1\. install the app \*/);

  // From the image: the install step did not run again (the app was installed once), the template names the new
  // machine, the data is back; the report says which image and sets the RTO beside the one from code.
  const fromImage = await drill();
  expect(fromImage.verdict, JSON.stringify(fromImage.checks)).toBe("passed");
  expect(fromImage.build).toMatchObject({ from: "image", digest: baked.digest, image: baked.image.ref });
  expect(fromImage.build?.otherRto).toMatchObject({ from: "code", runId: first.runId });
  expect(fromImage.steps.map((s) => [s.name, s.status, s.detail])).toEqual([
    ["install the app", "skipped", `in the baked image ${baked.digest}`],
    ["templates /etc/app/whoami", "passed", undefined],
    ["restore", "passed", undefined],
  ]);
  expect(reportText(fromImage)).toMatch(/RTO \S+ from image \(\S+ from code\)/);
  // --from-code still builds by the steps, with the image there.
  expect((await drill("--from-code")).build).toMatchObject({ from: "code", why: "asked to build from code" });

  // The runbook changes: the image is stale, the plan says why, the drill builds from code; --from-image refuses.
  await writeRunbook("  - shell: echo changed > /opt/app/changed\n");
  const stalePlan = await runCli(["drill", "--host", host, "--dry-run"], ws.env);
  expect(stalePlan.stderr).toContain(`build:    from code: the image is stale: baked`);
  expect(stalePlan.stderr).toContain(`for ${baked.digest}`);
  const refused = await runCli(["--json", "drill", "--host", host, "--from-image"], ws.env);
  expect(refused.exitCode).toBe(2);
  expect(refused.stdout).toContain("no fresh baked image");
  const stale = await drill();
  expect(stale.verdict).toBe("passed");
  expect(stale.build?.from).toBe("code");

  // Losing every image loses nothing: code rebuilds.
  await execa("podman", ["rmi", "-f", baked.image.ref]);
  expect((await drill()).build?.from).toBe("code");
});
