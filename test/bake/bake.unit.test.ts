// What makes a baked image stale (its digest), and which path a scheduled drill of a baked host takes.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "vitest";
import { bakeDigest, bakedSteps } from "../../src/bake/digest.js";
import { scheduledPath } from "../../src/bake/schedule.js";
import { policyForHost } from "../../src/policy/load.js";
import { loadRunbook, type Runbook } from "../../src/runbook/load.js";
import { test, type Workspace } from "../helpers/workspace.js";

const BASE = `host: web1
provider: { container: { image: debian:bookworm } }
vars: { site: example.org }
steps:
  - name: packages
    apt: [nginx]
  - files: { /etc/nginx/nginx.conf: files/nginx.conf }
  - templates: { /srv/www/index.html: files/index.html }
  - restore
  - shell: nginx
checks:
  - command: "true"
rto: 15m
`;

async function load(
  ws: Workspace,
  yaml: string,
  nginx = "server {}\n",
  index = "{{name}}\n",
): Promise<Runbook> {
  await ws.writePolicy("web1.yaml", "host: web1\nirreplaceable: [/srv/uploads]\n");
  await mkdir(path.join(ws.root, "runbooks/files"), { recursive: true });
  await writeFile(path.join(ws.root, "runbooks/files/nginx.conf"), nginx);
  await writeFile(path.join(ws.root, "runbooks/files/index.html"), index);
  await writeFile(path.join(ws.root, "runbooks/web1.yaml"), yaml);
  const config = await ws.config();
  const loaded = await loadRunbook(config, await policyForHost(config, "web1"), { cwd: ws.root });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.runbook;
}

test("the digest follows what the image holds: steps before restore, their files, vars and the base", async ({
  ws,
}) => {
  const base = bakeDigest(await load(ws, BASE), "image sha256:1");
  expect(base).toMatch(/^[0-9a-f]{16}$/);
  expect(bakeDigest(await load(ws, BASE), "image sha256:1")).toBe(base);
  // Stale: a package, a copied file's content, a variable, the base image.
  expect(bakeDigest(await load(ws, BASE.replace("[nginx]", "[nginx, curl]")), "image sha256:1")).not.toBe(
    base,
  );
  expect(bakeDigest(await load(ws, BASE, "server { listen 81; }\n"), "image sha256:1")).not.toBe(base);
  expect(bakeDigest(await load(ws, BASE.replace("example.org", "example.net")), "image sha256:1")).not.toBe(
    base,
  );
  expect(bakeDigest(await load(ws, BASE), "image sha256:2")).not.toBe(base);
  // Not stale: what runs after restore, the checks, the RTO, a step's name or timeout, a template (rendered for
  // each machine anyway).
  const same = BASE.replace("shell: nginx", "shell: nginx -g 'daemon on;'")
    .replace('command: "true"', "command: test -f /srv/www/index.html")
    .replace("rto: 15m", "rto: 5m")
    .replace("name: packages", "name: the packages\n    timeout: 20m");
  expect(bakeDigest(await load(ws, same, "server {}\n", "{{host}}\n"), "image sha256:1")).toBe(base);
  expect(bakedSteps(await load(ws, BASE)).map((s) => s.name)).toEqual([
    "packages",
    "files /etc/nginx/nginx.conf",
  ]);
});

test("a scheduled drill of a baked host alternates image and code, baking first when the image is stale", () => {
  expect(scheduledPath({ baked: false, fresh: false, last: undefined })).toEqual({
    bake: false,
    build: "code",
  });
  expect(scheduledPath({ baked: false, fresh: false, last: "image" })).toEqual({
    bake: false,
    build: "code",
  });
  expect(scheduledPath({ baked: true, fresh: true, last: undefined })).toEqual({
    bake: false,
    build: "image",
  });
  expect(scheduledPath({ baked: true, fresh: true, last: "code" })).toEqual({ bake: false, build: "image" });
  expect(scheduledPath({ baked: true, fresh: true, last: "image" })).toEqual({ bake: false, build: "code" });
  expect(scheduledPath({ baked: true, fresh: false, last: "code" })).toEqual({ bake: true, build: "image" });
  // The image's turn waits while code's is due: no bake then.
  expect(scheduledPath({ baked: true, fresh: false, last: "image" })).toEqual({ bake: false, build: "code" });
});
