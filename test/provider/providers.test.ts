// The provider conformance suite against the three providers: container (podman), ssh (a fleet SSH host the user
// "prepared") and command (the user's create/destroy scripts making sshd containers).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { CommandProvider } from "../../src/provider/command.js";
import { ContainerProvider } from "../../src/provider/container.js";
import { SshProvider } from "../../src/provider/ssh.js";
import { SshTransport } from "../../src/transport/ssh.js";
import { BASE_IMAGE, RUN_OPTIONS, type SshHost, startSshHost } from "../helpers/fleet.js";
import { type VmCommands, writeVmCommands } from "../helpers/vm-commands.js";
import { providerConformance } from "./conformance.js";

vi.setConfig({ testTimeout: 120_000 });

let spare: SshHost;
let dir: string;
let vm: VmCommands;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "lifeboat-providers-"));
  [spare, vm] = await Promise.all([startSshHost(`lbpc-spare-${process.pid}`), writeVmCommands(dir)]);
}, 120_000);
afterAll(async () => {
  await spare?.remove();
  // Whatever a failed assertion left standing.
  const left = await execa("podman", ["ps", "-aq", "--filter", "name=^pc-"], { reject: false });
  for (const id of String(left.stdout).split("\n").filter(Boolean))
    await execa("podman", ["rm", "-f", "--time", "0", id], { reject: false });
  await rm(dir, { recursive: true, force: true });
});

const containerStands = async (name: string) =>
  (await execa("podman", ["container", "exists", name], { reject: false })).exitCode === 0;

const container = (stateDir: string) =>
  new ContainerProvider(
    {
      kind: "container",
      image: `localhost/${BASE_IMAGE}`,
      engine: "podman",
      ports: [],
      command: ["sleep", "infinity"],
      runOptions: RUN_OPTIONS,
      recoveryRunOptions: [],
    },
    { stateDir },
  );
providerConformance("container (podman)", async () => ({
  provider: () => container(`${dir}/controller`),
  otherController: () => container(`${dir}/other-controller`),
  stands: containerStands,
  owns: true,
}));

const ssh = () =>
  new SshProvider({
    kind: "ssh",
    destination: spare.destination,
    identityFile: spare.identityFile,
    knownHostsFile: spare.knownHostsFile,
  });
providerConformance("ssh (a machine the user prepared)", async () => ({
  provider: ssh,
  otherController: ssh,
  // The user's machine: it stands while it answers a login.
  stands: async () =>
    (
      await new SshTransport("spare", {
        destination: spare.destination,
        identityFile: spare.identityFile,
        knownHostsFile: spare.knownHostsFile,
      }).run(["true"])
    ).exitCode === 0,
  owns: false,
}));

const command = (stateDir: string) =>
  new CommandProvider(
    {
      kind: "command",
      create: vm.create,
      destroy: vm.destroy,
      user: "root",
      identityFile: vm.identityFile,
      timeoutSeconds: 120,
      env: [],
    },
    { stateDir },
  );
providerConformance("command (the user's create and destroy commands)", async () => ({
  provider: () => command(`${dir}/controller`),
  otherController: () => command(`${dir}/other-controller`),
  stands: containerStands,
  owns: true,
}));

test("a container machine waiting with sleep gets an init: a stop ends it by SIGTERM, not after the kill timeout", async () => {
  const runId = `${process.pid}init`;
  const machine = await container(`${dir}/controller`).create({
    name: `pc-init-${runId}`,
    host: "pc",
    runId,
    mode: "drill",
  });
  try {
    const inspect = (format: string) =>
      execa("podman", ["inspect", "--format", format, machine.name]).then((r) => r.stdout.trim());
    expect(await inspect("{{.HostConfig.Init}}")).toBe("true");
    await execa("podman", ["stop", "--time", "30", machine.name]);
    // 143 = ended by SIGTERM; without an init PID 1 ignores it and podman kills it after 30 s (137).
    expect(await inspect("{{.State.ExitCode}}")).toBe("143");
  } finally {
    await machine.destroy();
  }
});
