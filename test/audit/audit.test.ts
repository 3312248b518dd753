// `lifeboat audit` on a live container host: data nobody classified and package files changed since
// installation are found (grouped, with a suggested policy entry); package files as installed, the files
// package scripts made, and everything the policy classifies never are; once the policy is fixed, nothing is.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { AuditResult } from "../../src/audit/scan.js";
import { catalogFor } from "../../src/catalog/store.js";
import type { Digest } from "../../src/report/digest.js";
import { runCli } from "../helpers/cli.js";
import { type ContainerHost, DB_IMAGE, RPM_IMAGE, sh, startContainerHost } from "../helpers/fleet.js";
import { s3Env } from "../helpers/s3/start.js";
import { createWorkspace, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 120_000 });
const s3 = inject("s3");
const tag = randomBytes(3).toString("hex");
let ws: Workspace;
let web1: ContainerHost;
let vendor: ContainerHost | undefined;

// What the services image itself holds outside any package (database clusters, their configuration, apt
// sources, a generated TLS key): real findings on a real host, classified here so the test sees its own.
const IMAGE_BASELINE = [
  "/var/lib/postgresql",
  "/var/lib/mysql",
  "/etc/postgresql",
  "/etc/postgresql-common",
  "/etc/mysql",
  "/etc/ssl",
  "/etc/apt",
  "/etc/locale.gen",
  "/etc/default/locale",
  "/etc/hosts.allow",
  "/etc/hosts.deny",
  "/etc/shells",
  "/etc/networks",
];

async function writePolicy(irreplaceable: string[]): Promise<void> {
  await ws.writePolicy(
    "web1.yaml",
    `host: web1
transport: { container: ${web1.name} }
irreplaceable: [${irreplaceable.join(", ")}]
rebuildable: [/etc/nginx]
ignored: [${IMAGE_BASELINE.join(", ")}]
`,
  );
}

async function audit(): Promise<{ exitCode: number; result: AuditResult; stderr: string }> {
  const r = await runCli(["--json", "audit", "--host", "web1"], ws.env);
  return {
    exitCode: r.exitCode,
    result: (JSON.parse(r.stdout) as { result: AuditResult }).result,
    stderr: r.stderr,
  };
}

beforeAll(async () => {
  ws = await createWorkspace();
  await ws.useFleetS3(s3);
  // For reading the catalog from the test itself.
  Object.assign(process.env, s3Env(s3));
  web1 = await startContainerHost(`lbau-web1-${tag}`, DB_IMAGE);
  await sh(
    web1.root,
    [
      "mkdir -p /srv/app/uploads /var/lib/app /etc/nginx/conf.d",
      "head -c 5000 /dev/urandom > /srv/app/uploads/photo.jpg",
      // The app's state, which nobody classified.
      "head -c 12000 /dev/urandom > /var/lib/app/state.db",
      // A hand edit to a package's configuration file, and one to a file no package has.
      "echo 'ULIMIT=\"-n 4096\"' >> /etc/default/nginx",
      "echo 'gzip on;' > /etc/nginx/conf.d/extra.conf",
      // restic's cache, as Lifeboat's snapshots leave it: a cache, never data.
      "mkdir -p /root/.cache/restic/0123abcd/index && head -c 3000 /dev/urandom > /root/.cache/restic/0123abcd/index/ff00",
    ].join(" && "),
  );
}, 300_000);

afterAll(async () => {
  await Promise.all([web1?.remove(), vendor?.remove()]);
  if (ws) await rm(ws.root, { recursive: true, force: true });
});

test("the audit finds the unclassified state and the changed package file, and nothing a package installed", async () => {
  await writePolicy(["/srv/app/uploads"]);
  const { exitCode, result, stderr } = await audit();
  expect(exitCode, stderr).toBe(9);
  expect(result.scanned).toBeGreaterThan(100);
  expect(result.verified).toBeGreaterThan(50);
  // Exactly these two: every other file of the image is a package's, a package script's copy or link, the
  // system's, or classified. The rebuildable /etc/nginx (with extra.conf) is the drill's business, not the audit's.
  expect(
    result.groups.map((g) => ({
      path: g.path,
      kind: g.kind,
      files: g.files,
      packages: g.packages,
      cls: g.suggestion.dataClass,
    })),
  ).toEqual([
    { path: "/var/lib/app", kind: "unclassified", files: 1, packages: [], cls: "irreplaceable" },
    {
      path: "/etc/default",
      kind: "modified-package-file",
      files: 1,
      packages: ["nginx-common"],
      cls: "rebuildable",
    },
  ]);
  expect(result.groups[0]).toMatchObject({ bytes: 12000, examples: ["/var/lib/app/state.db"] });
  expect(result.groups[1]?.examples).toEqual(["/etc/default/nginx"]);

  // Humans get a table and the policy lines to add.
  const text = await runCli(["audit", "--host", "web1", "--no-record"], ws.env);
  expect(text.stdout).toMatch(/\/var\/lib\/app +unclassified +1 +11\.7 KiB/);
  expect(text.stdout).toContain("changed package file (nginx-common)");
  expect(text.stdout).toContain("irreplaceable:\n  - /var/lib/app");

  // Kept in the catalog for the digest.
  const stored = await catalogFor(await ws.config(), "offsite").list("audits/web1/");
  expect(stored).toHaveLength(1);
  // And the weekly digest says so.
  const digest = (JSON.parse((await runCli(["--json", "digest"], ws.env)).stdout) as { result: Digest })
    .result;
  expect(digest.rows[0]?.audit).toMatchObject({ groups: 2, files: 2 });
  expect((await runCli(["digest"], ws.env)).stdout).toMatch(/audit .* ago: 2 unclassified \(2 files\)/);
});

test("once the policy classifies the state and the edit is undone, the audit finds nothing", async () => {
  await writePolicy(["/srv/app/uploads", "/var/lib/app"]);
  await sh(web1.root, "sed -i '$d' /etc/default/nginx");
  const { exitCode, result } = await audit();
  expect(result.groups).toEqual([]);
  expect(exitCode).toBe(0);
});

test("a host without dpkg or rpm gets a clear error, not a list of every file", async () => {
  await sh(web1.root, "mv /usr/bin/dpkg-query /usr/bin/dpkg-query.away");
  try {
    const r = await runCli(["--json", "audit", "--host", "web1"], ws.env);
    expect(r.exitCode).toBe(5);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "AUDIT_UNSUPPORTED" });
  } finally {
    await sh(web1.root, "mv /usr/bin/dpkg-query.away /usr/bin/dpkg-query");
  }
});

// A vendor's package installed with rpm (Debian's rpm tools, on the services image): its files are package files
// too, compared with rpm's own digests (sha256), with or without dpkg beside it.
const SPEC = `Name: vendortool
Version: 1.0
Release: 1
Summary: a vendor's tool
License: MIT
BuildArch: noarch
%description
A vendor's tool.
%install
mkdir -p %{buildroot}/opt/vendor
echo level=1 > %{buildroot}/opt/vendor/tool.conf
echo docs > %{buildroot}/opt/vendor/README
%files
/opt/vendor/tool.conf
/opt/vendor/README
`;

test("rpm's packages count too: an rpm's files are not findings until one is changed, also on a host with rpm alone", async () => {
  vendor = await startContainerHost(`lbau-rpm-${tag}`, RPM_IMAGE);
  await vendor.root.writeFile("/root/vendortool.spec", SPEC);
  await sh(
    vendor.root,
    "rpmbuild -bb --define '_topdir /root/rpmbuild' /root/vendortool.spec >/dev/null && " +
      "rpm -i --nodeps --force-debian /root/rpmbuild/RPMS/noarch/vendortool-1.0-1.noarch.rpm && " +
      "rm -rf /root/rpmbuild /root/vendortool.spec",
  );
  await ws.writePolicy(
    "vendor.yaml",
    `host: vendor\ntransport: { container: ${vendor.name} }\nirreplaceable: [/srv/data]\nignored: [${IMAGE_BASELINE.join(", ")}]\n`,
  );
  const run = async () => {
    const r = await runCli(["--json", "audit", "--host", "vendor", "--no-record"], ws.env);
    return (JSON.parse(r.stdout) as { result: AuditResult }).result.groups;
  };
  // Installed as shipped: nothing under /opt.
  expect((await run()).filter((g) => g.path.startsWith("/opt"))).toEqual([]);

  await sh(vendor.root, "echo level=9 > /opt/vendor/tool.conf");
  const changed = (await run()).filter((g) => g.path.startsWith("/opt"));
  expect(changed).toMatchObject([
    { path: "/opt/vendor", kind: "modified-package-file", files: 1, packages: ["vendortool"] },
  ]);
  expect(changed[0]?.examples).toEqual(["/opt/vendor/tool.conf"]);

  // Without dpkg, rpm's database alone still tells the vendor's files apart.
  await sh(vendor.root, "mv /usr/bin/dpkg-query /usr/bin/dpkg-query.away");
  const rpmOnly = await run();
  expect(rpmOnly.filter((g) => g.path === "/opt/vendor")).toMatchObject([
    { kind: "modified-package-file", files: 1, packages: ["vendortool"] },
  ]);
  expect(rpmOnly.filter((g) => g.path === "/opt/vendor" && g.kind === "unclassified")).toEqual([]);
});
