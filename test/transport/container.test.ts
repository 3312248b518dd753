import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ContainerTransport, findEngine } from "../../src/transport/container.js";
import { type ContainerHost, startContainerHost } from "../helpers/fleet.js";
import { transportConformance } from "./conformance.js";

let host: ContainerHost;
beforeAll(async () => {
  host = await startContainerHost(`lifeboat-t-${randomBytes(3).toString("hex")}`);
}, 300_000);
afterAll(async () => {
  await host?.remove();
});

transportConformance("container (podman)", async () => {
  const t = new ContainerTransport("web1", host.name, await findEngine());
  const scratch = (await t.run(["mktemp", "-d"])).stdout.trim();
  return { transport: t, scratch };
});

it("finds podman, and reports the container's address on the podman network", async () => {
  expect(await findEngine()).toBe("podman");
  expect(await new ContainerTransport("web1", host.name, "podman").address()).toMatch(/^10\.88\.\d+\.\d+$/);
});

it("a stopped container is HOST_UNREACHABLE with what to do", async () => {
  const other = await startContainerHost(`lifeboat-t-${randomBytes(3).toString("hex")}`);
  try {
    await other.stop();
    const t = new ContainerTransport("db1", other.name, "podman");
    await expect(t.run(["true"])).rejects.toMatchObject({
      code: "HOST_UNREACHABLE",
      message: `cannot reach db1: container ${other.name} is not running (podman)`,
    });
  } finally {
    await other.remove();
  }
});
