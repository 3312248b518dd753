// The provider a runbook names.
import type { ProviderSpec } from "../runbook/load.js";
import { CommandProvider } from "./command.js";
import { ContainerProvider } from "./container.js";
import { SshProvider } from "./ssh.js";
import type { Provider } from "./types.js";

export function openProvider(spec: ProviderSpec): Provider {
  switch (spec.kind) {
    case "container":
      return new ContainerProvider(spec);
    case "ssh":
      return new SshProvider(spec);
    case "command":
      return new CommandProvider(spec);
  }
}
