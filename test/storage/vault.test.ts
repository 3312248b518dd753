// The vault: restic's REST server, append-only with private repositories, served by `lifeboat vault serve`.
// Hosts (real containers) snapshot into it with their own login and key. An attacker on web1 holds exactly what
// web1's restic was given, and tries what ransomware would: read db1's repository, forget, delete packs.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { request } from "node:https";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, expect, vi } from "vitest";
import { runCli, startCli } from "../helpers/cli.js";
import { type ContainerHost, sh, startContainerHost } from "../helpers/fleet.js";
import { FLEET_GATEWAY } from "../helpers/s3/start.js";
import { freePort } from "../helpers/sshd.js";
import { test, type Workspace } from "../helpers/workspace.js";

vi.setConfig({ testTimeout: 240_000 });
const tag = randomBytes(3).toString("hex");
let web1: ContainerHost;
let db1: ContainerHost;
let server: ResultPromise | undefined;

beforeAll(async () => {
  [web1, db1] = await Promise.all([
    startContainerHost(`lb-vweb1-${tag}`),
    startContainerHost(`lb-vdb1-${tag}`),
  ]);
  for (const h of [web1, db1]) {
    await sh(h.root, "mkdir -p /srv/data");
    await h.root.writeFile("/srv/data/a.txt", `${h.name}'s data\n`);
    await h.root.writeFile("/srv/data/b.bin", randomBytes(50_000));
  }
}, 300_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await server?.catch(() => {});
  await Promise.all([web1, db1].map((h) => h?.remove()));
});

/** A vault target served by `lifeboat vault serve` on all addresses; the containers reach it at the gateway. */
async function serveVault(ws: Workspace): Promise<{ url: string; env: NodeJS.ProcessEnv }> {
  const port = await freePort();
  const url = `https://${FLEET_GATEWAY}:${port}`;
  await ws.writeConfig(
    `targets:\n  vault: { type: rest, url: "${url}", path: ${ws.data("vault")} }\ndefaults:\n  repository: vault\n  retention: { last: 1 }\n`,
  );
  for (const h of [web1, db1])
    await ws.writePolicy(
      `${h === web1 ? "web1" : "db1"}.yaml`,
      `host: ${h === web1 ? "web1" : "db1"}\ntransport: { container: ${h.name} }\nirreplaceable: [/srv/data]\n`,
    );
  server = startCli(["vault", "serve", "--listen", `0.0.0.0:${port}`], ws.env);
  const env = ws.env;
  for (let i = 0; ; i++) {
    const doctor = await runCli(["--json", "doctor"], env);
    if (doctor.stdout.includes(`${url} answers`)) break;
    if (i > 50) throw new Error(`the vault did not start: ${doctor.stdout}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, env };
}

test("hosts snapshot into the vault with their own login; web1's login cannot read db1, forget or delete", async ({
  ws,
}) => {
  const { url, env } = await serveVault(ws);
  const init = await runCli(["init"], env);
  expect(init.exitCode, init.stderr).toBe(0);
  const first = await runCli(["snapshot", "--all"], env);
  expect(first.exitCode, first.stderr).toBe(0);

  // What web1's restic held: its login and its key (and the vault's certificate, which is public).
  const login = (await readFile(path.join(ws.home, "keys", "vault", "vault", "web1.login"), "utf8")).trim();
  const key = (await readFile(path.join(ws.home, "keys", "hosts", "web1.key"), "utf8")).trim();
  const ca = path.join(ws.home, "vault", "vault", "cert.pem");
  const asWeb1 = (repo: string, args: string[]) =>
    execa("restic", ["-r", `rest:${url}/${repo}/`, "--cacert", ca, ...args], {
      reject: false,
      env: {
        RESTIC_PASSWORD: key,
        RESTIC_REST_USERNAME: "web1",
        RESTIC_REST_PASSWORD: login,
        PATH: "/usr/bin:/bin",
      },
    });
  const own = await asWeb1("web1", ["snapshots", "--json"]);
  expect(own.exitCode, own.stderr).toBe(0);
  const [snap] = JSON.parse(own.stdout) as Array<{ id: string }>;
  expect(snap?.id).toMatch(/^[0-9a-f]{64}$/);

  // Another host's repository: not even its config.
  const other = await asWeb1("db1", ["cat", "config"]);
  expect(other.exitCode).not.toBe(0);
  expect(other.stderr).toMatch(/401|Unauthorized|unable to open/i);
  // Forget its own snapshot: refused by the server, the snapshot stays.
  await asWeb1("web1", ["forget", snap?.id ?? ""]);
  expect(JSON.parse((await asWeb1("web1", ["snapshots", "--json"])).stdout)).toHaveLength(1);
  const packs = await readdir(ws.data("vault", "web1", "data"), { recursive: true, withFileTypes: true });
  const pack = packs.find((e) => e.isFile())?.name ?? "";
  // Raw HTTP, as a script on web1 would do it, with web1's login.
  const http = (method: string, p: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${url}${p}`, { method, ca: readFileSync(ca), auth: `web1:${login}` }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
  expect(await http("DELETE", `/web1/data/${pack}`)).toBe(403);
  expect(await http("DELETE", `/web1/snapshots/${snap?.id}`)).toBe(403);
  expect(await http("GET", "/db1/config")).toBe(401);
  expect(await http("GET", "/web1/config")).toBe(200);

  // The controller's retention and check work on the vault's directory itself.
  await web1.root.writeFile("/srv/data/c.txt", "second night\n");
  expect((await runCli(["snapshot", "--host", "web1", "--no-prune"], env)).exitCode).toBe(0);
  const forget = await runCli(["forget", "--host", "web1"], env);
  expect(forget.exitCode, forget.stderr).toBe(0);
  expect(forget.stdout).toContain("removed 1");
  const check = await runCli(["check", "--host", "web1"], env);
  expect(check.exitCode, check.stderr).toBe(0);
  const restored = path.join(ws.root, "restored");
  expect((await runCli(["restore", "--host", "web1", "--target", restored], env)).exitCode).toBe(0);
  expect(await readFile(path.join(restored, "srv/data/c.txt"), "utf8")).toBe("second night\n");
});
