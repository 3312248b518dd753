import { afterAll, beforeAll, expect, it } from "vitest";
import { SshTransport } from "../../src/transport/ssh.js";
import { startSshd, type TestSshd } from "../helpers/sshd.js";
import { transportConformance } from "./conformance.js";

let sshd: TestSshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

const transport = () =>
  new SshTransport("web1", {
    destination: "root@127.0.0.1",
    port: sshd.port,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
  });

transportConformance("ssh (OpenSSH client to an sshd on loopback)", async () => {
  const t = transport();
  const scratch = (await t.run(["mktemp", "-d"])).stdout.trim();
  return { transport: t, scratch };
});

it("a host whose key is not in known_hosts is refused, with which host and why", async () => {
  const { writeFile } = await import("node:fs/promises");
  const empty = `${sshd.knownHostsFile}.empty`;
  await writeFile(empty, "");
  const t = new SshTransport("web1", {
    destination: "root@127.0.0.1",
    port: sshd.port,
    identityFile: sshd.identityFile,
    knownHostsFile: empty,
  });
  await expect(t.run(["true"])).rejects.toMatchObject({
    code: "HOST_UNREACHABLE",
    message: expect.stringMatching(
      /cannot reach web1 over ssh \(root@127\.0\.0\.1\): .*(Host key verification failed|No .*host key)/,
    ),
  });
});

it("an address where nothing listens fails fast with HOST_UNREACHABLE", async () => {
  const t = new SshTransport("db1", {
    destination: "root@127.0.0.1",
    port: 1,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
  });
  const start = Date.now();
  await expect(t.run(["true"])).rejects.toMatchObject({
    code: "HOST_UNREACHABLE",
    message: expect.stringContaining("Connection refused"),
  });
  expect(Date.now() - start).toBeLessThan(15_000);
});
