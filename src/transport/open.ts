// The transport a policy names, ready to use.
import type { TransportSpec } from "../policy/load.js";
import { ContainerTransport, findEngine } from "./container.js";
import { LocalTransport } from "./local.js";
import { SshTransport } from "./ssh.js";
import type { Transport } from "./types.js";

export async function openTransport(host: string, spec: TransportSpec): Promise<Transport> {
  switch (spec.kind) {
    case "local":
      return new LocalTransport(host);
    case "ssh":
      return new SshTransport(host, spec);
    case "container":
      return new ContainerTransport(host, spec.name, await findEngine(spec.engine), spec.user);
  }
}

/** How the host is reached, for messages: "local", "ssh deploy@10.0.0.5", "container web1 (podman)". */
export function describeTransport(spec: TransportSpec): string {
  if (spec.kind === "local") return "local";
  if (spec.kind === "ssh") return `ssh ${spec.destination}${spec.port ? `:${spec.port}` : ""}`;
  return `container ${spec.name}${spec.engine ? ` (${spec.engine})` : ""}`;
}
