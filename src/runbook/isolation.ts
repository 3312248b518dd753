// What in a runbook would let a drill or stage reach production, seen before anything runs: container options
// that share production's volumes, network, devices or namespaces, and checks that name production or a fixed
// address instead of the machine under test.
import { isIP } from "node:net";
import type { Policy } from "../policy/load.js";

// `run` options that hand a container something of the host's or production's. Each is recovery-only.
const PRODUCTION_REACHING = new Map<string, string>([
  ["-v", "mounts a volume or a host directory"],
  ["--volume", "mounts a volume or a host directory"],
  ["--mount", "mounts a volume or a host directory"],
  ["--volumes-from", "shares another container's volumes"],
  ["--network", "joins a network other than the drill's own"],
  ["--net", "joins a network other than the drill's own"],
  ["--pod", "joins a pod's namespaces"],
  ["-p", "publishes a port on this machine"],
  ["--publish", "publishes a port on this machine"],
  ["-P", "publishes ports on this machine"],
  ["--publish-all", "publishes ports on this machine"],
  ["--privileged", "gives the container the host's devices and powers"],
  ["--device", "passes a host device in"],
  ["--pid", "shares a process namespace"],
  ["--ipc", "shares an IPC namespace"],
  ["--uts", "shares the host's UTS namespace"],
  ["--userns", "shares a user namespace"],
  ["--cgroupns", "shares a cgroup namespace"],
  ["--cap-add", "adds capabilities (NET_ADMIN could undo the isolation)"],
  ["--security-opt", "weakens the container's confinement"],
  ["--secret", "passes a secret of this machine in"],
]);

/** The options of `runOptions` that only a recovery may have, each with why. */
export function productionReachingOptions(
  options: readonly string[],
): Array<{ index: number; option: string; why: string }> {
  return options.flatMap((raw, index) => {
    const option = raw.split("=")[0] ?? raw;
    const why = PRODUCTION_REACHING.get(option);
    return why ? [{ index, option, why }] : [];
  });
}

/** The host part of a check's URL (or tcp host), as written: may hold {{variables}}. */
export function checkTarget(check: { url?: string; host?: string }): string | undefined {
  if (check.host !== undefined) return check.host;
  if (check.url === undefined) return undefined;
  return /^https?:\/\/(\[[^\]]+\]|[^/:?#]+)/.exec(check.url)?.[1]?.replace(/^\[|\]$/g, "");
}

/** Names by which the policy knows production: its host name, its container, its ssh destination's host. */
export function productionNames(policy: Policy, recoveredName: string): Set<string> {
  const names = new Set([policy.host, recoveredName]);
  if (policy.transport.kind === "container") names.add(policy.transport.name);
  if (policy.transport.kind === "ssh") names.add(policy.transport.destination.replace(/^.*@/, ""));
  return names;
}

/**
 * Why a check's target would not be the machine under test in a drill, or undefined when it is (it names the
 * machine through {{address}} or {{name}}, or gives no host at all).
 */
export function staticCheckLeak(target: string | undefined, production: Set<string>): string | undefined {
  if (target === undefined || /\{\{\s*(address|name)\s*\}\}/.test(target)) return undefined;
  if (production.has(target)) return `names production (${target})`;
  if (target === "localhost" || target.startsWith("127.") || target === "::1")
    return `names ${target}, which is the controller, not the machine under test`;
  if (isIP(target)) return `names the fixed address ${target}`;
  return undefined;
}
