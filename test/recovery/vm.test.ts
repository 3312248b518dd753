// Recovering and drilling a virtual machine with systemd: production is a real VM (libvirt) with web1's data;
// runbooks/web1-vm.yaml rebuilds it on a fresh VM, where nginx and the guestbook are services enabled at boot.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { leftovers } from "../helpers/vm.js";
import { startVmWeb1, type VmWeb1 } from "../helpers/vm-web1.js";

vi.setConfig({ testTimeout: 1_500_000 });
const s3 = inject("s3");
let web1: VmWeb1;
const virsh = (...args: string[]) =>
  execa("virsh", ["-q", "-c", "qemu:///system", ...args], { reject: false });

beforeAll(async () => {
  web1 = await startVmWeb1(s3);
}, 1_200_000);

afterAll(async () => {
  await web1?.remove();
});

test("a drill rebuilds the VM in isolation: services enabled, data back, production unreachable, nothing left", async () => {
  const { ws, host, production } = web1;
  const runbook = path.join(ws.root, "runbooks/web1-vm.yaml");
  const text = await readFile(runbook, "utf8");
  // The drill machine itself tries production's VM: the isolation must refuse it.
  await writeFile(
    runbook,
    text.replace(
      "checks:\n",
      `checks:\n  - name: production's VM is out of reach\n    command: "! timeout 5 bash -c 'echo > /dev/tcp/${production.address}/22'"\n`,
    ),
  );
  try {
    const report = jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", host], ws.env));
    expect(report.verdict, JSON.stringify(report.checks)).toBe("passed");
    expect(report.isolation).toMatchObject({
      enforced: true,
      detail: expect.stringContaining("lifeboatvm_"),
    });
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["production's VM is out of reach", "passed"],
      ["home page", "passed"],
      ["an upload is served", "passed"],
      ["the guestbook app serves its entries", "passed"],
      ["nginx and the guestbook start at boot", "passed"],
    ]);
    // Production answered all along: the drill's check failed to reach it because of the isolation alone.
    expect((await production.transport.run(["true"])).exitCode).toBe(0);
    expect(await leftovers(`${host}-drill`)).toEqual([]);
  } finally {
    await writeFile(runbook, text);
  }
});

test("recover --replace sets the old VM aside and brings the host back; its services come back after a reboot", async () => {
  const { ws, host, tag } = web1;
  const r = await runCli(["--json", "recover", "--host", host, "--replace"], ws.env);
  const report = jsonResult<RecoveryReport>(r);
  expect(report.verdict, r.stderr).toBe("passed");
  // The old machine is kept, shut off, under another name.
  const all = String((await virsh("list", "--all", "--name")).stdout);
  expect(all).toMatch(new RegExp(`^${host}-replaced-\\S+$`, "m"));
  expect(all).toMatch(new RegExp(`^${host}$`, "m"));
  const address = report.address ?? "";
  expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  // The recovered VM restarts: nginx and the guestbook are up again without anyone starting them.
  await virsh("reboot", host);
  let served = "";
  for (let i = 0; i < 120 && !served.includes(`signed before the disaster ${tag}`); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    served = await fetch(`http://${address}:8080/guestbook.txt`).then(
      (res) => res.text(),
      () => "",
    );
  }
  expect(served).toContain(`signed before the disaster ${tag}`);
  expect((await fetch(`http://${address}/`)).status).toBe(200);
});
