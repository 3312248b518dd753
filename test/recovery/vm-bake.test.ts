// A baked VM image: `bake` saves web1-vm's machine after its steps before restore; a drill starts from it, skips
// those steps, renders the templates for its own machine and says from which image; the next drill from code sets
// its RTO beside the image's.
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import type { BakeResult } from "../../src/bake/run.js";
import type { RecoveryReport } from "../../src/recovery/run.js";
import { jsonResult, runCli } from "../helpers/cli.js";
import { leftovers, VM_DIR } from "../helpers/vm.js";
import { startVmWeb1, type VmWeb1 } from "../helpers/vm-web1.js";

vi.setConfig({ testTimeout: 1_500_000 });
const s3 = inject("s3");
let web1: VmWeb1;

beforeAll(async () => {
  web1 = await startVmWeb1(s3);
}, 1_200_000);

afterAll(async () => {
  await web1?.remove();
});

test("a baked VM image: the drill skips the baked steps, renders the templates, and says from which image", async () => {
  const { ws, host } = web1;
  const baked = jsonResult<BakeResult>(await runCli(["--json", "bake", "--host", host], ws.env));
  expect(baked).toMatchObject({
    status: "baked",
    image: { ref: `${VM_DIR}/baked/${host}-${baked.digest}.qcow2` },
  });
  expect(await leftovers(`${host}-bake`)).toEqual([]);
  const report = jsonResult<RecoveryReport>(await runCli(["--json", "drill", "--host", host], ws.env));
  expect(report.verdict, JSON.stringify(report.checks)).toBe("passed");
  expect(report.build).toMatchObject({ from: "image", digest: baked.digest, image: baked.image.ref });
  expect(report.steps.map((s) => [s.name, s.status])).toEqual([
    ["apt nginx python3", "skipped"],
    ["files /etc/nginx/sites-enabled/default (+1)", "skipped"],
    ["templates /srv/app/www/index.html", "passed"],
    ["restore", "passed"],
    ["enable and start nginx and the guestbook", "passed"],
  ]);
  expect(await leftovers(`${host}-drill`)).toEqual([]);
  // The next drill from code sets the image's RTO beside its own.
  const code = jsonResult<RecoveryReport>(
    await runCli(["--json", "drill", "--host", host, "--from-code"], ws.env),
  );
  expect(code.verdict).toBe("passed");
  expect(code.build).toMatchObject({ from: "code", otherRto: { from: "image", runId: report.runId } });
});
