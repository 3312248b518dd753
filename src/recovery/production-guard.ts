// A drill or stage machine must not be production itself. A container drill cannot be (its own container and
// network); a machine reached over ssh (the ssh provider's, or one the command provider's create printed) can, by a
// typo or a reused address: then it is refused before a step runs on it, and never destroyed.
import { LifeboatError } from "../errors.js";
import type { Policy } from "../policy/load.js";
import type { ProvisionedHost } from "../provider/types.js";
import type { ProviderSpec } from "../runbook/load.js";
import { openTransport } from "../transport/open.js";
import type { Transport } from "../transport/types.js";

const refuse = (what: string, host: string) =>
  new LifeboatError("DRILL_NOT_ISOLATED", `the drill machine would be production: ${what}`, {
    hint: `Give ${host}'s runbook a provider that makes or names a machine of its own (another address), so that a drill never configures production. Nothing was run on it.`,
  });

const hostOf = (destination: string): string => destination.replace(/^.*@/, "");

/** Before provisioning: an ssh provider named at production's own destination. */
export function refuseProductionDestination(policy: Policy, provider: ProviderSpec): void {
  if (provider.kind !== "ssh" || policy.transport.kind !== "ssh") return;
  if (hostOf(provider.destination) === hostOf(policy.transport.destination))
    throw refuse(
      `its ssh destination ${provider.destination} is production's (${policy.transport.destination})`,
      policy.host,
    );
}

async function hostKeys(t: Transport, signal?: AbortSignal): Promise<Set<string>> {
  const r = await t.run(["sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null; true"], {
    timeoutMs: 30_000,
    signal,
  });
  return new Set(
    r.stdout
      .split("\n")
      .map((l) => l.trim().split(/\s+/).slice(0, 2).join(" "))
      .filter((k) => k.includes(" ")),
  );
}

/**
 * After provisioning, before any step: a machine with production's address or production's ssh host key is
 * production. Production that cannot be reached cannot be it (it is the dead one, or out of reach).
 */
export async function refuseProductionMachine(
  policy: Policy,
  provider: ProviderSpec,
  machine: ProvisionedHost,
  signal?: AbortSignal,
): Promise<void> {
  if (provider.kind === "container") return;
  let production: Transport;
  let address: string | undefined;
  try {
    production = await openTransport(policy.host, policy.transport);
    address = await production.address();
  } catch {
    return;
  }
  if (address && address === machine.address)
    throw refuse(`its address ${machine.address} is production's`, policy.host);
  const [ours, theirs] = await Promise.all([
    hostKeys(machine.transport, signal),
    hostKeys(production, signal).catch(() => new Set<string>()),
  ]);
  if ([...ours].some((k) => theirs.has(k)))
    throw refuse(`${machine.address} has production's ssh host key: it is the same machine`, policy.host);
}
