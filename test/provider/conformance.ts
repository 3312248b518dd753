// The one suite every provider must pass: the contract in src/provider/types.ts, point by point.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Provider, ProvisionRequest } from "../../src/provider/types.js";

export interface ProviderUnderTest {
  /** The provider as this controller opens it (the same state directory every time). */
  provider: () => Provider;
  /** The same provider as another controller opens it (another state directory). */
  otherController: () => Provider;
  /** Whether the machine of this name stands, seen from outside the provider (podman, a login). */
  stands: (name: string, address: string) => Promise<boolean>;
  /** The provider makes (and so removes) its machines; false for the user's own machine (ssh). */
  owns: boolean;
}

const request = (mode: ProvisionRequest["mode"], signal?: AbortSignal): ProvisionRequest => {
  const runId = randomBytes(6).toString("hex");
  return { name: `pc-${mode}-${runId}`, host: "pc", runId, mode, signal };
};

export function providerConformance(kind: string, open: () => Promise<ProviderUnderTest>): void {
  describe(`provider conformance: ${kind}`, () => {
    it("creates a machine with a working transport and an address, and describes it", async () => {
      const { provider } = await open();
      const p = provider();
      const req = request("drill");
      expect(p.describe(req.name)).toMatch(/\S/);
      const machine = await p.create(req);
      try {
        expect(machine.address).toMatch(/\S/);
        expect(machine.removeHint).toMatch(/\S/);
        const r = await machine.transport.run(["sh", "-c", "echo ready"]);
        expect(r).toMatchObject({ exitCode: 0, stdout: "ready\n" });
      } finally {
        await machine.destroy();
      }
    });

    it("says whether a machine exists, or that it cannot tell; only one that can tell sets machines aside", async () => {
      const { provider, owns } = await open();
      const p = provider();
      const req = request("drill");
      const machine = await p.create(req);
      const standing = await p.exists(req.name);
      await machine.destroy();
      const gone = await p.exists(req.name);
      if (standing === "unknown") {
        expect(gone).toBe("unknown");
        expect(p.setAside).toBeUndefined();
      } else {
        expect([standing, gone]).toEqual([true, false]);
        expect(typeof p.setAside).toBe("function");
        expect(owns).toBe(true);
      }
    });

    it("destroy removes what it made, and is safe to call again", async () => {
      const { provider, stands, owns } = await open();
      const machine = await provider().create(request("drill"));
      expect(await stands(machine.name, machine.address)).toBe(true);
      await machine.destroy();
      await machine.destroy();
      // A machine the provider did not make is the user's: still standing.
      expect(await stands(machine.name, machine.address)).toBe(!owns);
    });

    it("remove, from another instance (another process), removes a machine made earlier; a gone one is no error", async () => {
      const { provider, stands, owns } = await open();
      const req = request("stage");
      const machine = await provider().create(req);
      const gone = { name: machine.name, address: machine.address, mode: req.mode, runId: req.runId };
      await provider().remove(gone);
      expect(await stands(machine.name, machine.address)).toBe(!owns);
      await expect(provider().remove(gone)).resolves.toBeUndefined();
      await machine.destroy();
    });

    it("remove refuses a machine another controller made, or one claimed under another run; both still stand", async () => {
      const { provider, otherController, stands, owns } = await open();
      const theirs = request("stage");
      const machine = await otherController().create(theirs);
      const ours = request("stage");
      const mine = await provider().create(ours);
      try {
        const claim = {
          name: machine.name,
          address: machine.address,
          mode: theirs.mode,
          runId: theirs.runId,
        };
        const wrongRun = { name: mine.name, address: mine.address, mode: ours.mode, runId: theirs.runId };
        if (owns) {
          await expect(provider().remove(claim)).rejects.toMatchObject({ code: "MACHINE_NOT_OURS" });
          await expect(provider().remove(wrongRun)).rejects.toMatchObject({ code: "MACHINE_NOT_OURS" });
        } else {
          await provider().remove(claim);
          await provider().remove(wrongRun);
        }
        expect(await stands(machine.name, machine.address)).toBe(true);
        expect(await stands(mine.name, mine.address)).toBe(true);
      } finally {
        await Promise.all([machine.destroy(), mine.destroy()]);
      }
    });

    it("an aborted create rejects and leaves nothing behind, however far it got", async () => {
      const { provider, stands, owns } = await open();
      const before = request("drill", AbortSignal.abort());
      await expect(provider().create(before)).rejects.toThrow();
      if (owns) expect(await stands(before.name, "")).toBe(false);
      // Aborted midway: either it rejects, or it finished first and its destroy leaves nothing.
      const controller = new AbortController();
      const midway = request("drill", controller.signal);
      setTimeout(() => controller.abort(), 150);
      let address = "";
      await provider()
        .create(midway)
        .then(
          async (m) => {
            address = m.address;
            await m.destroy();
          },
          () => {},
        );
      if (owns) expect(await stands(midway.name, address)).toBe(false);
    });
  });
}
