// Rebuild drift in drills: production built from the runbook (`recover --no-data`), then changed by hand; the
// drill's rebuild, compared with production before the data goes back, lists the hand-made file in a rebuildable
// path, and nothing once the runbook makes it. A template with the machine's name and address is compared as
// rendered for production, so it is not drift. Production being unreachable leaves drift unknown, not a failure.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import type { Digest } from "../../src/report/digest.js";
import { ContainerTransport } from "../../src/transport/container.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { DB_IMAGE, RUN_OPTIONS } from "../helpers/fleet.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const prod = `lbd-web1-${tag}`;
let ws: Workspace;
let root: ContainerTransport;

async function writeRunbook(extraFiles = ""): Promise<void> {
  await writeFile(
    path.join(ws.root, "runbooks/web1.yaml"),
    `host: web1
provider:
  container:
    image: localhost/${DB_IMAGE}
    runOptions: ${JSON.stringify(RUN_OPTIONS)}
steps:
  - files:
      /etc/nginx/sites-enabled/default: files/site.conf${extraFiles}
  - templates:
      /srv/app/www/index.html: files/index.html
  - restore
checks:
  - command: test -s /srv/app/uploads/a.txt
`,
  );
}

async function drill(): Promise<RecoveryReport> {
  return jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", "web1"], ws.env));
}

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  await mkdir(path.join(ws.root, "runbooks/files"), { recursive: true });
  await writeFile(
    path.join(ws.root, "runbooks/files/site.conf"),
    "server { listen 80; root /srv/app/www; }\n",
  );
  await writeFile(path.join(ws.root, "runbooks/files/extra.conf"), "gzip on;\n");
  // Differs on every machine: compared as rendered for production.
  await writeFile(
    path.join(ws.root, "runbooks/files/index.html"),
    "<p>{{host}} on {{name}} at {{address}}</p>\n",
  );
  await ws.writePolicy(
    "web1.yaml",
    `host: web1
transport: { container: ${prod} }
irreplaceable: [/srv/app/uploads]
rebuildable: [/srv/app, /etc/nginx]
`,
  );
  await writeRunbook();
  // Production, built from the runbook like a new host's first build.
  jsonResult(await runCli(["--json", "recover", "--host", "web1", "--no-data"], ws.env));
  root = new ContainerTransport(prod, prod, "podman");
  await root.run(["sh", "-c", "mkdir -p /srv/app/uploads && echo precious > /srv/app/uploads/a.txt"]);
  jsonResult(await runCli(["--json", "snapshot", "--host", "web1"], ws.env));
  // The hand edit nobody put in the runbook.
  await root.writeFile("/etc/nginx/conf.d/extra.conf", "gzip on;\n");
}, 300_000);

afterAll(async () => {
  await execa("podman", ["rm", "-f", "--time", "0", prod], { reject: false });
  if (ws) await rm(ws.root, { recursive: true, force: true });
});

test("a drill lists the hand-made file in a rebuildable path as drift, and passes with a warning", async () => {
  const report = await drill();
  // State the runbook does not make would be lost by a rebuild: a person must look.
  expect(report.verdict).toBe("passed-with-warnings");
  expect(report.warnings).toEqual([
    {
      code: "DRIFT_UNMADE_STATE",
      message: expect.stringContaining(
        "1 file(s) in production's rebuildable paths that the runbook does not make: /etc/nginx/conf.d/extra.conf",
      ),
    },
  ]);
  expect(report.drift).toMatchObject({
    compared: true,
    paths: ["/srv/app", "/etc/nginx"],
    files: {
      onlyProduction: ["/etc/nginx/conf.d/extra.conf"],
      onlyRebuilt: [],
      // index.html holds the machine's name and address: as rendered for production, it is the same.
      differ: [],
    },
    packages: { onlyProduction: [], onlyRebuilt: [], versionDiffers: [] },
  });
  expect(report.drift?.files.counts.same).toBeGreaterThanOrEqual(2);
  // Not part of the RTO: the drill's own work.
  expect(report.rto.seconds).toBeLessThan(
    (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000 -
      (report.drift?.seconds ?? 0) +
      0.5,
  );
  const text = await runCli(["report", "--host", "web1"], ws.env);
  expect(text.stdout).toContain("rebuild drift: 1 only in production");
  expect(text.stdout).toContain(
    "/etc/nginx/conf.d/extra.conf: only in production: the runbook does not make it",
  );
  // The weekly digest carries it: the host needs attention.
  const out = await runCli(["--json", "digest"], ws.env);
  expect(out.exitCode).toBe(9);
  const digest = (JSON.parse(out.stdout) as { result: Digest }).result;
  expect(digest.attention).toEqual(["web1"]);
  expect(digest.rows[0]).toMatchObject({ host: "web1", drift: "1 only in production" });
  expect((await runCli(["digest"], ws.env)).stdout).toContain("web1: DRIFT;");
});

test("a file the policy expects only in production (drift.expected) is listed, not a warning", async () => {
  const policy = `${ws.policiesDir}/web1.yaml`;
  const before = await readFile(policy, "utf8");
  await writeFile(policy, `${before}drift: { expected: [/etc/nginx/conf.d] }\n`);
  try {
    const report = await drill();
    expect(report.verdict).toBe("passed");
    expect(report.warnings).toEqual([]);
    expect(report.drift?.files.onlyProduction).toEqual([]);
    expect(report.drift?.expected).toEqual(["/etc/nginx/conf.d/extra.conf"]);
  } finally {
    await writeFile(policy, before);
  }
});

test("once the runbook makes the file, the drill finds no drift", async () => {
  await writeRunbook("\n      /etc/nginx/conf.d/extra.conf: files/extra.conf");
  const report = await drill();
  expect(report.verdict).toBe("passed");
  expect(report.drift?.compared).toBe(true);
  expect(report.drift?.files.counts).toMatchObject({ onlyProduction: 0, onlyRebuilt: 0, differ: 0 });
  const text = await runCli(["report", "--host", "web1"], ws.env);
  expect(text.stdout).toMatch(
    /rebuild drift: none \(\d+ files in 2 rebuildable paths identical, same packages\)/,
  );
});

test("a changed file is drift; production unreachable leaves drift unknown and the drill still passes", async () => {
  await root.writeFile("/etc/nginx/sites-enabled/default", "server { listen 8080; }\n");
  const changed = await drill();
  expect(changed.drift?.files.differ).toEqual(["/etc/nginx/sites-enabled/default"]);

  await execa("podman", ["stop", "-t", "0", prod]);
  try {
    const report = await drill();
    expect(report.verdict).toBe("passed");
    expect(report.drift).toMatchObject({ compared: false });
    expect(report.drift?.reason).toMatch(/^production could not be read: /);
  } finally {
    await execa("podman", ["start", prod]);
  }
});
