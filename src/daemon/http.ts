// /healthz and /metrics on the daemon's listen address.
import { createServer, type Server } from "node:http";
import type { DaemonMetrics } from "./metrics.js";

export interface Health {
  /** Undefined while healthy; else why not. */
  problem(): string | undefined;
  details(): Record<string, unknown>;
}

export async function startHttp(
  listen: { host: string; port: number },
  metrics: DaemonMetrics,
  health: Health,
): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url?.split("?")[0];
    if (req.method === "GET" && url === "/healthz") {
      const problem = health.problem();
      res.writeHead(problem ? 503 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: problem ? "unhealthy" : "ok", problem, ...health.details() }));
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
