// `lifeboat plan`: what a runbook at another git ref (or the working tree against HEAD) would do differently,
// before anything is provisioned: exactly the changed steps and files, with a diff of the contents.
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import type { RunbookDiff } from "../../src/runbook/diff.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { test, type Workspace } from "../helpers/workspace.js";

const NGINX = "server {\n  listen 80;\n  root /srv/app/www;\n}\n";

const RUNBOOK = `host: web1
provider:
  container: { image: localhost/lifeboat-base:bookworm }
steps:
  - apt: [nginx]
  - files:
      /etc/nginx/sites-enabled/default: files/nginx.conf
  - templates:
      /srv/app/www/index.html: files/index.html
  - restore
checks:
  - http: { url: "http://{{address}}/" }
rto: 15m
`;

const git = (ws: Workspace, ...args: string[]) =>
  execa("git", ["-C", ws.root, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args]);

async function repository(ws: Workspace): Promise<void> {
  await ws.writeConfig(
    `targets:\n  offsite: { type: s3, endpoint: "https://127.0.0.1:9", bucket: lifeboat, pathStyle: true }\ndefaults:\n  repository: offsite\n`,
  );
  await ws.writePolicy(
    "web1.yaml",
    "host: web1\ntransport: { container: web1 }\nirreplaceable: [/srv/app/uploads]\nrebuildable: [/etc/nginx]\n",
  );
  await mkdir(path.join(ws.root, "runbooks/files"), { recursive: true });
  await writeFile(path.join(ws.root, "runbooks/web1.yaml"), RUNBOOK);
  await writeFile(path.join(ws.root, "runbooks/files/nginx.conf"), NGINX);
  await writeFile(path.join(ws.root, "runbooks/files/index.html"), "<p>{{host}}</p>\n");
  await git(ws, "init", "-q", "-b", "main");
  await git(ws, "add", "-A");
  await git(ws, "commit", "-q", "-m", "web1 as it runs");
}

test("plan --ref shows exactly the changed file and its step, with the diff", async ({ ws }) => {
  await repository(ws);
  await git(ws, "checkout", "-q", "-b", "gzip");
  await writeFile(
    path.join(ws.root, "runbooks/files/nginx.conf"),
    NGINX.replace("  listen 80;\n", "  listen 80;\n  gzip on;\n"),
  );
  await git(ws, "commit", "-q", "-am", "gzip");
  await git(ws, "checkout", "-q", "main");

  const diff = jsonResult<RunbookDiff>(
    await runCli(["--json", "plan", "--host", "web1", "--ref", "gzip"], ws.env),
  );
  expect(diff.from).toBe("working tree");
  expect(diff.to).toMatch(/^gzip \([0-9a-f]{8}\)$/);
  expect(diff.steps).toEqual([
    {
      change: "changed",
      name: "files /etc/nginx/sites-enabled/default",
      kind: "files",
      details: ["/etc/nginx/sites-enabled/default: files/nginx.conf changed"],
    },
  ]);
  expect(diff.files).toHaveLength(1);
  expect(diff.files[0]).toMatchObject({ path: "files/nginx.conf", change: "changed" });
  expect(diff.files[0]?.diff).toContain("--- a/files/nginx.conf\n+++ b/files/nginx.conf");
  expect(diff.files[0]?.diff).toMatch(/\n\+ {2}gzip on;/);
  expect(diff.other).toEqual([]);

  const text = await runCli(["plan", "--host", "web1", "--ref", "gzip"], ws.env);
  expect(text.exitCode, text.stderr).toBe(0);
  expect(text.stdout).toContain("~ files /etc/nginx/sites-enabled/default (changed)");
  expect(text.stdout).toContain("    +  gzip on;");
});

test("without --ref: the working tree against HEAD; an added step and check, a changed RTO", async ({
  ws,
}) => {
  await repository(ws);
  await writeFile(path.join(ws.root, "runbooks/files/extra.conf"), "gzip on;\n");
  await writeFile(
    path.join(ws.root, "runbooks/web1.yaml"),
    RUNBOOK.replace(
      "  - restore\n",
      "  - files:\n      /etc/nginx/conf.d/extra.conf: files/extra.conf\n  - restore\n",
    )
      .replace("rto: 15m", "rto: 10m")
      .replace("checks:\n", "checks:\n  - tcp: { port: 80 }\n"),
  );
  const diff = jsonResult<RunbookDiff>(await runCli(["--json", "plan", "--host", "web1"], ws.env));
  expect(diff.to).toBe("working tree");
  expect(diff.steps).toEqual([
    {
      change: "added",
      name: "files /etc/nginx/conf.d/extra.conf",
      kind: "files",
      details: ["timeout: (none) -> 900s", "/etc/nginx/conf.d/extra.conf: (none) -> files/extra.conf"],
    },
  ]);
  expect(diff.files).toMatchObject([{ path: "files/extra.conf", change: "added" }]);
  expect(diff.other).toEqual(["rto: 15m -> 10m", "check added: tcp 80"]);
});

test("an unknown ref, and a policies directory outside git, are clear errors", async ({ ws }) => {
  await repository(ws);
  const bad = await runCli(["--json", "plan", "--host", "web1", "--ref", "no-such-branch"], ws.env);
  expect(bad.exitCode).toBe(2);
  expect(JSON.parse(bad.stdout).error.message).toContain("no-such-branch is not a branch, tag or commit");

  await execa("rm", ["-rf", path.join(ws.root, ".git")]);
  const none = await runCli(["--json", "plan", "--host", "web1"], ws.env);
  expect(none.exitCode).toBe(2);
  expect(JSON.parse(none.stdout).error.message).toContain("is not in a git repository");
});

test("a branch whose files reach outside the repository (by .. or a link) is refused; the key is printed nowhere", async ({
  ws,
}) => {
  await repository(ws);
  const outside = path.join(path.dirname(ws.root), `key-${path.basename(ws.root)}`);
  await writeFile(outside, "-----BEGIN OPENSSH PRIVATE KEY----- secret-key-material\n", { mode: 0o600 });
  try {
    for (const [branch, src] of [
      // Enough .. to reach / from wherever the tree is unpacked, then the key's own path.
      ["dotdot", `${"../".repeat(12)}${outside.slice(1)}`],
      ["link", "files/key"],
    ] as const) {
      await git(ws, "checkout", "-q", "-b", branch);
      if (branch === "link") await symlink(outside, path.join(ws.root, "runbooks/files/key"));
      await writeFile(
        path.join(ws.root, "runbooks/web1.yaml"),
        RUNBOOK.replace("/etc/nginx/sites-enabled/default: files/nginx.conf", `/root/key: ${src}`),
      );
      await git(ws, "add", "-A");
      await git(ws, "commit", "-q", "-m", `reach out by ${branch}`);
      await git(ws, "checkout", "-q", "main");
      const r = await runCli(["plan", "--host", "web1", "--ref", branch], ws.env);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain("outside the repository");
      expect(r.stdout + r.stderr).not.toContain("secret-key-material");
    }
    // In the working tree too: `validate` says so.
    await writeFile(
      path.join(ws.root, "runbooks/web1.yaml"),
      RUNBOOK.replace("files/nginx.conf", `${"../".repeat(12)}${outside.slice(1)}`),
    );
    const v = await runCli(["validate"], ws.env);
    expect(v.exitCode).toBe(2);
    expect(v.stdout + v.stderr).toMatch(/web1\.yaml:\d+: .*outside the repository/);
  } finally {
    await rm(outside, { force: true });
  }
});
