// The test servers' helpers fail at once, with the server's own words, when the server cannot start: a
// suite whose peer never came up must say so, not time out later somewhere else.
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startS3Server } from "./s3/start.js";
import { startSmtp } from "./smtp.js";
import { startSshd } from "./sshd.js";

let taken: Server;
let takenPort = 0;
beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

async function failureWithin(start: () => Promise<unknown>): Promise<{ message: string; ms: number }> {
  const begin = Date.now();
  const err = await start().then(
    () => new Error("the helper started a server that should not start"),
    (e: unknown) => e,
  );
  return { message: String((err as Error).message), ms: Date.now() - begin };
}

test("an sshd with a broken configuration fails the helper in under 5 s with sshd's message", async () => {
  const { message, ms } = await failureWithin(() => startSshd({ extraConfig: ["NoSuchOption yes"] }));
  expect(message).toMatch(/^sshd on 127\.0\.0\.1:\d+ exited before it was ready; its output:\n/);
  expect(message).toContain("Bad configuration option: NoSuchOption");
  expect(ms).toBeLessThan(5_000);
});

test("an S3 server whose port is taken fails the helper in under 5 s with the server's error", async () => {
  const { message, ms } = await failureWithin(() => startS3Server({ port: takenPort }));
  expect(message).toMatch(/^the S3 test server .* exited before it was ready; its output:\n/);
  expect(message).toContain("EADDRINUSE");
  expect(ms).toBeLessThan(5_000);
});

test("an SMTP server whose port is taken fails the helper at once with the reason", async () => {
  const { message, ms } = await failureWithin(() => startSmtp({ port: takenPort }));
  expect(message).toMatch(/could not listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  expect(ms).toBeLessThan(5_000);
});
