// The runbook's checks: proof that the recovered host works. Each is tried until it passes or its retries run
// out, since services may still be starting.
import { lookup } from "node:dns/promises";
import { createConnection, isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { isLifeboatError } from "../errors.js";
import { dumpEnv, queryCommand } from "../policy/databases.js";
import type { CheckResult } from "../report/schema.js";
import { checkTarget } from "../runbook/isolation.js";
import { type Check, renderTemplate } from "../runbook/load.js";
import type { Transport } from "../transport/types.js";

export type { CheckResult } from "../report/schema.js";

export interface CheckContext {
  transport: Transport;
  address: string;
  /** A drill or stage: a network check must reach this machine (`address`) and nothing else. */
  isolated?: boolean | undefined;
  vars: Record<string, string>;
  signal?: AbortSignal | undefined;
  env?: NodeJS.ProcessEnv;
}

/** One attempt: undefined when it passed (with what it saw), else why not. */
type Attempt = { ok: boolean; detail: string };

const clip = (text: string, n = 200): string => {
  const one = text.trim().replace(/\s+/g, " ");
  return one.length > n ? `${one.slice(0, n)}…` : one;
};

async function attempt(check: Check, ctx: CheckContext, timeoutMs: number): Promise<Attempt> {
  const run = async (argv: string[], env?: Record<string, string>) =>
    ctx.transport.run(argv, { timeoutMs, signal: ctx.signal, env });
  switch (check.kind) {
    case "http": {
      const url = renderTemplate(check.url, ctx.vars, `check ${check.name}`);
      const signal = ctx.signal
        ? AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs);
      const res = await fetch(url, { signal, redirect: "manual" });
      const body = await res.text();
      if (res.status !== check.status)
        return { ok: false, detail: `${url} answered ${res.status}, expected ${check.status}` };
      if (check.contains !== undefined && !body.includes(check.contains))
        return { ok: false, detail: `${url} answered ${res.status} without "${check.contains}" in its body` };
      return {
        ok: true,
        detail: `${res.status}${check.contains !== undefined ? `, contains "${check.contains}"` : ""}`,
      };
    }
    case "tcp": {
      const host = check.host ? renderTemplate(check.host, ctx.vars, `check ${check.name}`) : ctx.address;
      await new Promise<void>((resolve, reject) => {
        const socket = createConnection({ host, port: check.port, timeout: timeoutMs });
        socket.once("connect", () => {
          socket.destroy();
          resolve();
        });
        socket.once("timeout", () => {
          socket.destroy();
          reject(new Error(`no answer from ${host}:${check.port} within ${timeoutMs / 1000}s`));
        });
        socket.once("error", reject);
      });
      return { ok: true, detail: `${host}:${check.port} accepts connections` };
    }
    case "command": {
      const r = await run(["sh", "-c", renderTemplate(check.run, ctx.vars, `check ${check.name}`)]);
      return r.exitCode === 0
        ? { ok: true, detail: clip(r.stdout) || "exit 0" }
        : { ok: false, detail: `exit ${r.exitCode}${r.stderr.trim() ? `: ${clip(r.stderr)}` : ""}` };
    }
    case "checksum": {
      const r = await run(["sha256sum", "--", check.path]);
      if (r.exitCode !== 0) return { ok: false, detail: clip(r.stderr) || `sha256sum exited ${r.exitCode}` };
      const sum = r.stdout.split(/\s/)[0] ?? "";
      return sum === check.sha256
        ? { ok: true, detail: `sha256 ${sum.slice(0, 12)}… matches` }
        : { ok: false, detail: `sha256 is ${sum}, expected ${check.sha256}` };
    }
    case "sql": {
      const { env } = dumpEnv(check.source, ctx.env ?? process.env);
      const r = await run(queryCommand(check.source, check.database, check.query), env);
      if (r.exitCode !== 0) return { ok: false, detail: clip(r.stderr) || `exit ${r.exitCode}` };
      const out = r.stdout.trim();
      if (check.expect !== undefined)
        return out === check.expect.trim()
          ? { ok: true, detail: `returned ${clip(out)}` }
          : { ok: false, detail: `returned "${clip(out)}", expected "${check.expect.trim()}"` };
      const n = Number(out.split(/\s/)[0]);
      return Number.isFinite(n) && n >= (check.atLeast ?? 0)
        ? { ok: true, detail: `returned ${n} (at least ${check.atLeast})` }
        : { ok: false, detail: `returned "${clip(out)}", expected a number at least ${check.atLeast}` };
    }
  }
}

/**
 * In a drill or stage, where a network check would connect: refused (CHECK_NOT_ISOLATED) unless every address its
 * target resolves to is the machine under test's. Without this a check naming production passes on production.
 */
async function notIsolated(check: Check, ctx: CheckContext): Promise<string | undefined> {
  if (!ctx.isolated || (check.kind !== "http" && check.kind !== "tcp")) return undefined;
  const where = `check ${check.name}`;
  const host =
    check.kind === "http"
      ? checkTarget({ url: renderTemplate(check.url, ctx.vars, where) })
      : check.host
        ? renderTemplate(check.host, ctx.vars, where)
        : ctx.address;
  if (!host) return undefined;
  const found = isIP(host)
    ? [host]
    : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  const elsewhere = found.filter((a) => a !== ctx.address);
  if (found.length > 0 && elsewhere.length === 0) return undefined;
  return `${host} ${found.length ? `is ${elsewhere.join(", ")}` : "does not resolve"}, not the machine under test (${ctx.address})`;
}

/** Tries a check until it passes or its retries are used; only an interruption throws. */
export async function runCheck(check: Check, ctx: CheckContext): Promise<CheckResult> {
  const started = Date.now();
  const leak = await notIsolated(check, ctx);
  if (leak) {
    return {
      name: check.name,
      kind: check.kind,
      status: "failed",
      code: "CHECK_NOT_ISOLATED",
      attempts: 0,
      seconds: (Date.now() - started) / 1000,
      detail: `not run: ${leak}; in a drill a check must name the machine as {{address}}`,
    };
  }
  let last: Attempt = { ok: false, detail: "not run" };
  let attempts = 0;
  for (let i = 0; i <= check.retries; i++) {
    attempts++;
    try {
      last = await attempt(check, ctx, check.timeoutSeconds * 1000);
    } catch (err) {
      if (isLifeboatError(err) && err.code === "INTERRUPTED") throw err;
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      last = { ok: false, detail: clip(cause?.message ?? (err as Error).message) };
    }
    if (last.ok) break;
    if (i < check.retries) await sleep(check.intervalSeconds * 1000, undefined, { signal: ctx.signal });
  }
  return {
    name: check.name,
    kind: check.kind,
    status: last.ok ? "passed" : "failed",
    attempts,
    seconds: (Date.now() - started) / 1000,
    detail: last.detail,
  };
}
