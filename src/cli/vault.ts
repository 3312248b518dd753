// `lifeboat vault`: serve the append-only vault, and make a host's login to it.
import type { Command } from "commander";
import { execa } from "execa";
import type { LifeboatConfig, RestTargetConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import { policyForHost } from "../policy/load.js";
import { targetOf } from "../storage/repository.js";
import { ensureVaultLogin, htpasswdFile, vaultLoginFile, vaultServerCommand } from "../storage/vault.js";
import { childEnv } from "../util/child-env.js";
import type { CommandRunner } from "./context.js";

function vaultTarget(config: LifeboatConfig, name: string | undefined): RestTargetConfig {
  const vaults = [...config.targets.values()].filter((t): t is RestTargetConfig => t.type === "rest");
  const t = name ? targetOf(config, name) : vaults.length === 1 ? vaults[0] : undefined;
  if (t?.type === "rest") return t;
  throw new LifeboatError(
    "USAGE",
    name ? `target "${name}" is not a vault (type: rest)` : "name the vault with --target",
    {
      hint: `Vaults in lifeboat.yaml: ${vaults.map((v) => v.name).join(", ") || "none (add a target with type: rest)"}.`,
    },
  );
}

export function registerVault(program: Command, run: CommandRunner): void {
  const vault = program.command("vault").description("the append-only vault (restic's REST server)");
  vault
    .command("serve")
    .description(
      "run the vault's REST server here, append-only with private repositories, until stopped (for its service)",
    )
    .option("--target <name>", "the vault target (type: rest); default: the only one")
    .option("--listen <address>", "address to listen on; default: all addresses, the URL's port")
    .action((opts: { target?: string; listen?: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const t = vaultTarget(config, opts.target);
        const command = await vaultServerCommand(config.stateDir, t, opts.listen);
        ctx.logger.info({ vault: t.url, path: t.path, args: command.args }, "vault serving");
        // The server gets no secret: its logins are bcrypt lines in the vault's .htpasswd.
        const server = execa(command.file, command.args, {
          env: childEnv(),
          extendEnv: false,
          stdio: ["ignore", "inherit", "inherit"],
          reject: false,
          cancelSignal: ctx.signal,
          forceKillAfterDelay: 10_000,
        });
        const r = await server;
        if (ctx.signal.aborted) return 0;
        return r.exitCode ?? 1;
      }),
    );
  vault
    .command("add-host")
    .description("make a host's own vault login (kept here, 0600) and add it to the vault's .htpasswd")
    .requiredOption("--host <host>", "the host, as named in its policy")
    .action((opts: { host: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const policy = await policyForHost(config, opts.host);
        const t = vaultTarget(config, policy.repository);
        const login = await ensureVaultLogin(config.stateDir, t, policy.host, ctx.logger);
        const file = vaultLoginFile(config.stateDir, t.name, policy.host);
        ctx.print({ host: policy.host, vault: t.url, loginFile: file, added: login.added }, () =>
          login.added
            ? `${policy.host} can now add snapshots to ${t.url}/${policy.host}/ (login in ${file}, line in ${htpasswdFile(t)}); the server takes up to 30 s to notice`
            : `${policy.host} already has its vault login (${file})`,
        );
      }),
    );
}
