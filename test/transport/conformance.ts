// The one suite every transport must pass: the contract in src/transport/types.ts, point by point.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Transport } from "../../src/transport/types.js";
import { argvsDuring } from "../helpers/proc.js";

export function transportConformance(
  name: string,
  open: () => Promise<{ transport: Transport; scratch: string }>,
): void {
  describe(`transport conformance: ${name}`, () => {
    it("runs a program and returns its exit code, stdout and stderr; a non-zero exit is a result", async () => {
      const { transport } = await open();
      const r = await transport.run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
      expect(r).toEqual({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
    });

    it("passes arguments literally: no shell interprets them", async () => {
      const { transport } = await open();
      const args = ["a b", "$HOME", "it's", '"quoted"', "`id`", "semi;colon", "*"];
      const r = await transport.run(["printf", "%s\\n", ...args]);
      expect(r.stdout).toBe(`${args.join("\n")}\n`);
    });

    it("feeds stdin, byte for byte, then end-of-file", async () => {
      const { transport } = await open();
      const input = `${randomBytes(2048).toString("base64")}\nlast line without newline`;
      const r = await transport.run(["cat"], { stdin: input });
      expect(r.stdout).toBe(input);
      expect((await transport.run(["cat"])).stdout).toBe("");
    });

    it("sets environment variables whose values appear in no argv on either side", async () => {
      const { transport } = await open();
      const secret = `s3cr3t-${randomBytes(10).toString("hex")}`;
      const run = transport.run(["sh", "-c", 'sleep 0.5; printf %s "$LIFEBOAT_TEST_SECRET"'], {
        env: { LIFEBOAT_TEST_SECRET: secret },
      });
      const argvs = await argvsDuring(run);
      expect((await run).stdout).toBe(secret);
      expect(argvs.some((a) => a.includes("sleep 0.5"))).toBe(true);
      expect(argvs.filter((a) => a.includes(secret))).toEqual([]);
    });

    it("gives 127 for a program that does not exist", async () => {
      const { transport } = await open();
      expect((await transport.run(["lifeboat-no-such-program"])).exitCode).toBe(127);
    });

    it("times out with COMMAND_TIMEOUT, promptly", async () => {
      const { transport } = await open();
      const start = Date.now();
      await expect(transport.run(["sleep", "30"], { timeoutMs: 500 })).rejects.toMatchObject({
        code: "COMMAND_TIMEOUT",
      });
      expect(Date.now() - start).toBeLessThan(10_000);
    });

    it("stops on abort with INTERRUPTED", async () => {
      const { transport } = await open();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 300);
      await expect(transport.run(["sleep", "30"], { signal: controller.signal })).rejects.toMatchObject({
        code: "INTERRUPTED",
      });
    });

    it("stops a timed-out or aborted command on the host too, not only the local client", async () => {
      const { transport, scratch } = await open();
      const marks = [`${scratch}/timeout-mark`, `${scratch}/abort-mark`];
      const late = (mark: string) => ["sh", "-c", `sleep 1; touch ${mark}`];
      await expect(transport.run(late(marks[0] ?? ""), { timeoutMs: 300 })).rejects.toMatchObject({
        code: "COMMAND_TIMEOUT",
      });
      await expect(
        transport.run(late(marks[1] ?? ""), { signal: AbortSignal.timeout(300) }),
      ).rejects.toMatchObject({ code: "INTERRUPTED" });
      // Past the time the marks would have been made, with room for a slow host to have started them late.
      await new Promise((r) => setTimeout(r, 1800));
      const left = await transport.run([
        "sh",
        "-c",
        'for f; do [ -e "$f" ] && echo "$f"; done; true',
        "x",
        ...marks,
      ]);
      expect(left.stdout).toBe("");
    });

    it("launches a command for a caller that streams its output, with env and exit code", async () => {
      const { transport } = await open();
      const spec = transport.launch(["sh", "-c", 'printf %s "$LIFEBOAT_LAUNCH"; exit 4'], {
        LIFEBOAT_LAUNCH: "streamed",
      });
      const { execa } = await import("execa");
      const child = execa(spec.file, spec.args, {
        env: spec.env,
        extendEnv: false,
        stdin: "pipe",
        reject: false,
      });
      if (spec.stdinPrefix) child.stdin?.write(spec.stdinPrefix);
      else child.stdin?.end();
      const r = await child;
      expect(r.stdout).toBe("streamed");
      expect(spec.exitCode(r.exitCode, String(r.stderr))).toBe(4);
    });

    it("writes files with exact bytes and mode, and reads them back", async () => {
      const { transport, scratch } = await open();
      const file = `${scratch}/secret-${randomBytes(4).toString("hex")}.bin`;
      const data = randomBytes(100_000);
      await transport.writeFile(file, data, 0o600);
      expect(Buffer.compare(await transport.readFile(file), data)).toBe(0);
      expect((await transport.run(["stat", "-c", "%a", file])).stdout.trim()).toBe("600");
      await transport.writeFile(file, "replaced", 0o644);
      expect((await transport.readFile(file)).toString()).toBe("replaced");
    });

    it("rejects reading a missing file with HOST_FILE_MISSING", async () => {
      const { transport, scratch } = await open();
      await expect(transport.readFile(`${scratch}/no-such-file`)).rejects.toMatchObject({
        code: "HOST_FILE_MISSING",
      });
    });

    it("runs calls concurrently", async () => {
      const { transport } = await open();
      const start = Date.now();
      const results = await Promise.all(
        [1, 2, 3].map((i) => transport.run(["sh", "-c", `sleep 1; echo ${i}`])),
      );
      expect(results.map((r) => r.stdout)).toEqual(["1\n", "2\n", "3\n"]);
      // One after another would take at least 3 s; together, 1 s plus each call's setup.
      expect(Date.now() - start).toBeLessThan(2500);
    });

    it("reports an address", async () => {
      const { transport } = await open();
      expect(await transport.address()).toMatch(/^[\w.:-]+$/);
    });
  });
}
