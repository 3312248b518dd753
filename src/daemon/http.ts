// /healthz and /metrics on the daemon's listen address. Beyond loopback a bearer token is required for anything
// but /healthz (the config refuses otherwise); on loopback it is asked for when one is configured.
import { timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { DaemonConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { DaemonMetrics } from "./metrics.js";

export interface Health {
  /** Undefined while healthy; else why not. */
  problem(): string | undefined;
  details(): Record<string, unknown>;
}

/** The token the config names, read once at start: a missing or empty one stops the daemon with what to do. */
export async function resolveToken(
  token: DaemonConfig["token"],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (!token) return undefined;
  let value: string | undefined;
  if (token.kind === "env") value = env[token.variable]?.trim();
  else {
    try {
      if (((await stat(token.path)).mode & 0o077) !== 0)
        throw new LifeboatError(
          "PASSWORD_INSECURE",
          `the daemon's token file ${token.path} is readable by others`,
          {
            hint: `chmod 600 ${token.path}`,
          },
        );
      value = (await readFile(token.path, "utf8")).trim();
    } catch (err) {
      if (err instanceof LifeboatError) throw err;
      value = undefined;
    }
  }
  if (!value || value.length < 16)
    throw new LifeboatError(
      "CREDENTIALS_MISSING",
      `the daemon's token (${token.kind === "env" ? `environment variable ${token.variable}` : token.path}) is missing or shorter than 16 characters`,
      { hint: "Make one (openssl rand -hex 32) and put it there; Prometheus sends it as a bearer token." },
    );
  return value;
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim() ?? "";
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startHttp(
  listen: { host: string; port: number },
  metrics: DaemonMetrics,
  health: Health,
  token?: string,
): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url?.split("?")[0];
    if (req.method === "GET" && url === "/healthz") {
      const problem = health.problem();
      res.writeHead(problem ? 503 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: problem ? "unhealthy" : "ok", problem, ...health.details() }));
      return;
    }
    if (!authorized(req, token)) {
      res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="lifeboat"' });
      res.end("unauthorized: send the daemon's token as Authorization: Bearer <token>\n");
      return;
    }
    if (req.method === "GET" && url === "/metrics") {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: try /healthz or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}
