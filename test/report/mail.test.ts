// Restore-test reports and alerts by email, through a real SMTP server on loopback (STARTTLS and a login), parsed
// with mailparser; the HTML rendered by Debian's chromium.
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { reportHtml } from "../../src/report/render.js";
import { recoveryReportSchema } from "../../src/report/schema.js";
import { jsonResult, runCli, startCli } from "../helpers/cli.js";
import { type ContainerHost, containerRunbook, DB_IMAGE, sh, startContainerHost } from "../helpers/fleet.js";
import { smtpConfig, startSmtp, type TestSmtp } from "../helpers/smtp.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
const ARTIFACTS = path.resolve(import.meta.dirname, "../../test-artifacts");
let ws: Workspace;
let smtp: TestSmtp;
let app: ContainerHost;
let env: NodeJS.ProcessEnv;

const RUNBOOK = (extraStep = "") =>
  containerRunbook(
    "app",
    `steps:
${extraStep}  - restore
checks:
  - name: the data is back
    command: test -s /srv/data/a.txt
    retries: 0
rto: 10m
`,
  );

beforeAll(async () => {
  smtp = await startSmtp();
  ws = await createWorkspace();
  await ws.useFleetS3(s3, smtpConfig(smtp));
  env = { ...ws.env, SMTP_USER: smtp.user, SMTP_PASSWORD: smtp.password };
  app = await startContainerHost(`lbm-app-${tag}`, DB_IMAGE);
  await sh(app.root, "mkdir -p /srv/data && echo precious > /srv/data/a.txt");
  await ws.writePolicy(
    "app.yaml",
    `host: app\ntransport: { container: ${app.name} }\nirreplaceable: [/srv/data]\nnotify: [app-team@example.org]\n`,
  );
  await ws.writePolicy("lost.yaml", `host: lost\nirreplaceable: [${ws.data("gone")}]\n`);
  await mkdir(path.join(ws.root, "runbooks"), { recursive: true });
  await writeFile(path.join(ws.root, "runbooks/app.yaml"), RUNBOOK());
  const snap = await runCli(["snapshot", "--host", "app"], env);
  expect(snap.exitCode, snap.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await app?.remove();
  await smtp?.stop();
  await rm(ws.root, { recursive: true, force: true });
});

test("a drill's report arrives: verdict and RTO/RPO in the subject, phases and checks in the body, the JSON attached", async () => {
  const r = await runCli(["--json", "--log-level", "debug", "drill", "--host", "app"], env);
  const report = jsonResult<RecoveryReport>(r);
  const mail = await smtp.waitFor(
    (m) => m.subject?.includes(report.runId) || (m.text ?? "").includes(report.runId),
  );
  expect(mail.subject).toMatch(/^\[lifeboat\] drill app PASSED — RTO \d+s\/10m, RPO \d+s\/1d$/);
  expect(mail.from?.text).toBe("lifeboat@example.org");
  expect((mail.to && !Array.isArray(mail.to) ? mail.to.text : "").split(", ").sort()).toEqual([
    "app-team@example.org",
    "oncall@example.org",
  ]);
  expect(mail.text).toContain("Drill of app PASSED");
  expect(mail.text).toContain("check ok   the data is back");
  const html = String(mail.html);
  expect(html).toContain("Drill of app PASSED");
  for (const phase of ["provision", "configure", "restore", "start", "verify", "teardown"])
    expect(html).toContain(`>${phase}<`);
  const attachment = mail.attachments.find((a) => a.filename === `lifeboat-drill-app-${report.runId}.json`);
  expect(attachment?.contentType).toBe("application/json");
  const attached = recoveryReportSchema.parse(JSON.parse(String(attachment?.content)));
  expect(attached).toMatchObject({
    runId: report.runId,
    verdict: "passed",
    trigger: "manual",
    mode: "drill",
  });

  // The same report from the catalog, in the terminal and as HTML.
  const printed = await runCli(["report", "--host", "app"], env);
  expect(printed.stdout).toContain(`run ${report.runId} (manual)`);
  const file = path.join(ws.root, "report.html");
  expect((await runCli(["report", "--run", report.runId, "--html", file], env)).exitCode).toBe(0);
  expect(await readFile(file, "utf8")).toBe(reportHtml(attached));

  // The SMTP login is in no output and no object of the catalog.
  const stored = await storedObjects(s3.dir);
  for (const secret of [smtp.password, smtp.user]) {
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(stored.some((o) => o.includes(secret))).toBe(false);
  }
  expect(stored.some((o) => o.includes(report.runId))).toBe(true);
});

test("a failing drill's mail names the failing step and its output", async () => {
  await writeFile(
    path.join(ws.root, "runbooks/app.yaml"),
    RUNBOOK(`  - name: migrate\n    shell: "echo 'table users is missing' >&2; exit 3"\n`),
  );
  try {
    const r = await runCli(["--json", "drill", "--host", "app"], env);
    expect(r.exitCode).toBe(1);
    const report = JSON.parse(r.stdout).error.details.outcome as RecoveryReport;
    const mail = await smtp.waitFor((m) => (m.text ?? "").includes(report.runId));
    expect(mail.subject).toMatch(/^\[lifeboat\] drill app FAILED at migrate — RTO/);
    expect(mail.text).toContain('failed in configure at "migrate": exited with 3');
    expect(mail.text).toContain("| table users is missing");
    expect(String(mail.html)).toContain("Drill of app FAILED");
  } finally {
    await writeFile(path.join(ws.root, "runbooks/app.yaml"), RUNBOOK());
  }
});

test("a failed snapshot sends an alert; with the SMTP server down mail waits in the catalog and goes out later", async () => {
  const r = await runCli(["snapshot", "--host", "lost"], env);
  expect(r.exitCode).toBe(4);
  const alert = await smtp.waitFor((m) => m.subject?.startsWith("[lifeboat] ALERT lost") ?? false);
  expect(alert.subject).toBe("[lifeboat] ALERT lost: snapshot failed (DATA_MISSING)");
  expect(alert.text).toContain(`irreplaceable data of lost is missing: ${ws.data("gone")}`);
  expect(alert.text).toContain("What to do:");

  await smtp.stop();
  const count = smtp.messages.length;
  const again = await runCli(["snapshot", "--host", "lost"], env);
  // The run's outcome does not depend on the mail.
  expect(again.exitCode).toBe(4);
  expect(again.stderr).toContain("kept as pending");
  const stillDown = await runCli(["--json", "mail", "retry"], env);
  expect(stillDown.exitCode).toBe(1);
  expect(JSON.parse(stillDown.stdout).result).toEqual({ sent: 0, pending: 1 });

  await smtp.start();
  const retried = await runCli(["--json", "mail", "retry"], env);
  expect(JSON.parse(retried.stdout).result).toEqual({ sent: 1, pending: 0 });
  await smtp.waitFor(
    (m) => smtp.messages.indexOf(m) >= count && (m.subject?.includes("ALERT lost") ?? false),
  );
  // Sent once: a second retry finds nothing.
  expect(JSON.parse((await runCli(["--json", "mail", "retry"], env)).stdout).result).toEqual({
    sent: 0,
    pending: 0,
  });
});

test("pending mail planted in the bucket goes to no one the configuration does not name", async () => {
  const mail = (id: string, to: string[]) =>
    JSON.stringify({
      id,
      kind: "alert",
      createdAt: new Date().toISOString(),
      to,
      subject: `[lifeboat] planted ${id}`,
      text: "planted",
      attachments: [],
    });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  await ws.plantInCatalog(`mail/pending/${stamp}_aaaa01.json`, mail("aaaa01", ["attacker@evil.example"]));
  await ws.plantInCatalog(
    `mail/pending/${stamp}_aaaa02.json`,
    mail("aaaa02", ["attacker@evil.example", "app-team@example.org"]),
  );
  await ws.plantInCatalog(`mail/pending/${stamp}_aaaa03.json`, '{"id": "aaaa03", "to": ');
  const count = smtp.messages.length;
  const r = await runCli(["--json", "mail", "retry"], env);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout).result).toEqual({ sent: 1, pending: 0 });
  expect(r.stderr).toContain("names no recipient of this configuration");
  expect(r.stderr).toContain("skipped a malformed catalog record");
  const got = await smtp.waitFor((m) => m.subject === "[lifeboat] planted aaaa02");
  expect(got.envelopeTo).toEqual(["app-team@example.org"]);
  expect(smtp.messages.slice(count).flatMap((m) => m.envelopeTo)).not.toContain("attacker@evil.example");
  // Done with: a second retry sends nothing.
  expect(JSON.parse((await runCli(["--json", "mail", "retry"], env)).stdout).result).toEqual({
    sent: 0,
    pending: 0,
  });
});

test("a wrong SMTP password: the report is kept pending, the drill still passes, the password is nowhere", async () => {
  const r = await runCli(["--json", "--log-level", "debug", "drill", "--host", "app"], {
    ...env,
    SMTP_PASSWORD: "wrong-password-xyz",
  });
  expect(jsonResult<RecoveryReport>(r).verdict).toBe("passed");
  expect(r.stderr).toContain("kept as pending");
  expect(r.stdout + r.stderr).not.toContain("wrong-password-xyz");
  const stored = await storedObjects(s3.dir);
  expect(stored.some((o) => o.includes("wrong-password-xyz"))).toBe(false);
  expect(JSON.parse((await runCli(["--json", "mail", "retry"], env)).stdout).result).toEqual({
    sent: 1,
    pending: 0,
  });
});

test("the weekly digest lists every host with its state and RTO trend; a stale host alerts once", async () => {
  const r = await runCli(["--json", "digest", "--send"], env);
  expect(r.exitCode).toBe(9);
  const digest = JSON.parse(r.stdout).result;
  expect(digest.attention).toEqual(["lost"]);
  expect(digest.delivery).toBe("sent");
  const app = digest.rows.find((x: { host: string }) => x.host === "app");
  expect(app.lastDrill.verdict).toBe("passed");
  expect(app.rtoTrend.length).toBeGreaterThanOrEqual(3); // passed, failed, passed
  const mail = await smtp.waitFor((m) => m.subject?.includes("weekly digest") ?? false);
  expect(mail.subject).toBe("[lifeboat] weekly digest: 1 of 2 hosts need attention (lost)");
  expect(mail.text).toMatch(
    /^app: ok; last snapshot .* ago \(RPO 1d\); last drill PASSED .*; RTO trend \d+s → \d+s → \d+s/m,
  );
  expect(mail.text).toMatch(/^lost: STALE; last snapshot never/m);

  const before = smtp.messages.filter((m) => m.subject?.includes("is stale")).length;
  expect((await runCli(["status", "--alert"], env)).exitCode).toBe(9);
  const stale = await smtp.waitFor((m) => m.subject === "[lifeboat] ALERT lost: is stale (STALE)");
  expect(stale.text).toContain("lost has no good snapshot at all; its RPO is 24h.");
  await runCli(["status", "--alert"], env);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(smtp.messages.filter((m) => m.subject?.includes("is stale")).length).toBe(before + 1);
});

test("the HTML report renders in chromium: verdict banner and phase table in the page text (PNG kept)", async () => {
  const report = jsonResult<RecoveryReport>(await runCli(["--json", "report", "--host", "app"], env));
  await mkdir(ARTIFACTS, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 800, height: 900 });
    await page.setContent(reportHtml(report), { waitUntil: "load" });
    await page.screenshot({ path: path.join(ARTIFACTS, "drill-report.png"), fullPage: true });
    const text = String(await page.evaluate("document.body.innerText"));
    expect(text).toContain(`Drill of app ${report.verdict.toUpperCase()}`);
    expect(text).toMatch(/Phase\s+Result\s+Time/);
    expect(text).toMatch(/provision\s+PASSED/);
    expect(text).toContain("RTO");
  } finally {
    await browser.close();
  }
  expect((await readdir(ARTIFACTS)).includes("drill-report.png")).toBe(true);
});

/** Every file the S3 test server stores for this workspace (its catalog's records and mail included), as text. */
async function storedObjects(dir: string): Promise<string[]> {
  const out: string[] = [];
  const prefix = `t-${path.basename(ws.root)}`;
  for (const e of await readdir(path.join(dir, "data", s3.bucket), {
    recursive: true,
    withFileTypes: true,
  })) {
    if (!e.isFile() || !e.parentPath.includes(prefix)) continue;
    const body = await readFile(path.join(e.parentPath, e.name));
    if (body.length < 1_000_000) out.push(body.toString("utf8"));
  }
  return out;
}

test("the daemon drills on the runbook's schedule: a scheduled report is mailed and the drill's metrics exported", async () => {
  await writeFile(
    ws.configFile,
    `${await readFile(ws.configFile, "utf8")}daemon:\n  listen: 127.0.0.1:0\n  watchdogInterval: 2s\n`,
  );
  await writeFile(
    path.join(ws.root, "runbooks/app.yaml"),
    `${RUNBOOK()}drill: { schedule: "*/10 * * * * *" }\n`,
  );
  const daemon = startCli(["daemon"], env, undefined, { forceKillAfterDelay: false });
  let stderr = "";
  daemon.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    // Every 10 seconds (at once, too, when its last due time passed without a drill since).
    const mail = await smtp.waitFor((m) => (m.text ?? "").includes("(schedule)"), 120_000);
    expect(mail.subject).toMatch(/^\[lifeboat\] drill app PASSED/);
    const listen = /"listen":"([^"]+)"/.exec(stderr)?.[1];
    let metrics = "";
    for (let i = 0; i < 50 && !metrics.includes('lifeboat_drill_passed{host="app"} 1'); i++) {
      metrics = await (await fetch(`http://${listen}/metrics`)).text();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(metrics).toContain('lifeboat_drill_passed{host="app"} 1');
    expect(metrics).toMatch(/lifeboat_drill_rto_seconds\{host="app"\} \d/);
  } finally {
    daemon.kill("SIGTERM");
    expect((await daemon).exitCode, stderr).toBe(0);
    await writeFile(path.join(ws.root, "runbooks/app.yaml"), RUNBOOK());
  }
});
