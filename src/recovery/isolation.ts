// What a drill or stage machine may reach, worked out on the controller: the storage its restore reads from (the
// policy's target, resolved now) and what the runbook allows while steps run. And how the report says what held.
import { lookup } from "node:dns/promises";
import { isIPv4 } from "node:net";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { Policy } from "../policy/load.js";
import type { Endpoint, IsolationRules } from "../provider/isolation.js";
import type { ProvisionedHost } from "../provider/types.js";
import type { RecoveryReport } from "../report/schema.js";
import type { Runbook } from "../runbook/load.js";
import { endpointOf } from "../storage/s3-location.js";
import type { Mode } from "./machine.js";

async function resolve(host: string, ports: readonly number[]): Promise<Endpoint[]> {
  const addresses = isIPv4(host)
    ? [host]
    : (await lookup(host, { all: true, family: 4 }).catch(() => [])).map((a) => a.address);
  if (addresses.length === 0)
    throw new LifeboatError(
      "ISOLATION_UNAVAILABLE",
      `cannot resolve ${host}, which the drill machine must reach`,
      {
        hint: "Check the name (the storage endpoint in lifeboat.yaml, or the runbook's drill.allow) and this machine's DNS.",
      },
    );
  return addresses.flatMap((address) => ports.map((port) => ({ address, port })));
}

/** The rules for a drill's or stage's machine; undefined for a recovery, or when the runbook turned isolation off. */
export async function isolationRules(
  config: LifeboatConfig,
  policy: Policy,
  runbook: Runbook,
  mode: Mode,
): Promise<IsolationRules | undefined> {
  if (mode === "recovery" || !runbook.drillIsolation) return undefined;
  const target = config.targets.get(policy.repository);
  const storage: Endpoint[] = [];
  if (target?.type === "s3" || target?.type === "rest") {
    // The drill machine restores from where hosts reach the storage: S3's endpoint, or the vault's server.
    const url = new URL(target.type === "s3" ? endpointOf(target) : target.url);
    storage.push(
      ...(await resolve(url.hostname, [Number(url.port) || (url.protocol === "https:" ? 443 : 80)])),
    );
  }
  const duringSteps = (await Promise.all(runbook.drillAllow.map((a) => resolve(a.host, a.ports)))).flat();
  return { storage, duringSteps };
}

/** What the report says about the machine's isolation (a recovery's machine is production: not isolated). */
export function isolationOf(
  mode: Mode,
  runbook: Runbook,
  machine: ProvisionedHost | undefined,
): RecoveryReport["isolation"] {
  if (mode === "recovery" || !machine) return undefined;
  if (machine.isolation) return { enforced: true, detail: machine.isolation.detail };
  if (!runbook.drillIsolation)
    return { enforced: false, detail: "the runbook turned it off (drill: { isolation: false })" };
  return {
    enforced: false,
    detail: `the ${runbook.provider.kind} provider's machine and its network are the user's: Lifeboat made sure it is not production (address, host key) and that every check tests it, but cannot restrict what it reaches`,
  };
}
