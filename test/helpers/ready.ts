// Waiting for a test server to come up: a server that exits, or is not ready by its deadline, fails the wait at
// once with the server's own words, never a silent carry-on that surfaces later as a confusing test failure.
import type { Readable } from "node:stream";

/** The last `limit` characters a child wrote on these streams (its own error messages, for a failure). */
export function outputTail(streams: Array<Readable | null | undefined>, limit = 8_000): () => string {
  let text = "";
  for (const stream of streams) {
    stream?.on("data", (chunk: Buffer | string) => {
      text = (text + String(chunk)).slice(-limit);
    });
  }
  return () => text.trim();
}

export interface ReadyWait {
  /** What is starting, for the message: "sshd on 127.0.0.1:2222". */
  what: string;
  /** Resolves true once the server answers; an exception counts as "not yet". */
  probe(): Promise<boolean>;
  /** Settles when the server's process ends (if it is a process of ours). */
  exited?: Promise<unknown>;
  /** The server's output so far, for the message. */
  output(): string | Promise<string>;
  timeoutMs: number;
  intervalMs?: number;
  /** Stops the server when the wait fails (one that is not ready in time must not linger). */
  stop?: () => void;
}

/** Resolves once `probe` succeeds; rejects when the process exits first or the deadline passes. */
export async function waitUntilReady(wait: ReadyWait): Promise<void> {
  const deadline = Date.now() + wait.timeoutMs;
  let exited = false;
  void wait.exited?.then(
    () => {
      exited = true;
    },
    () => {
      exited = true;
    },
  );
  const fail = async (why: string): Promise<never> => {
    wait.stop?.();
    const output = await Promise.resolve(wait.output()).catch(
      (err: unknown) => `(output unreadable: ${err})`,
    );
    throw new Error(`${wait.what} ${why}${output ? `; its output:\n${output}` : " and printed nothing"}`);
  };
  for (;;) {
    if (exited) return fail("exited before it was ready");
    if (await wait.probe().catch(() => false)) {
      // A server may answer once and die right after a bad start; the probe passing means it is up now.
      if (!exited) return;
    }
    if (Date.now() > deadline) return fail(`was not ready within ${wait.timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, wait.intervalMs ?? 50));
  }
}
