// The provider a runbook names.
import type { ProviderSpec } from "../runbook/load.js";
import { CommandProvider } from "./command.js";
import { ContainerProvider } from "./container.js";
import type { ProviderContext } from "./ownership.js";
import { SshProvider } from "./ssh.js";
import type { Provider } from "./types.js";
import { VmProvider } from "./vm.js";

/** The context is the controller's: what it made is recorded (and recognised) under its state directory. */
export function openProvider(spec: ProviderSpec, ctx: ProviderContext): Provider {
  switch (spec.kind) {
    case "container":
      return new ContainerProvider(spec, ctx);
    case "ssh":
      return new SshProvider(spec);
    case "command":
      return new CommandProvider(spec, ctx);
    case "vm":
      return new VmProvider(spec, ctx);
  }
}
