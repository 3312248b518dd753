// init, kit and doctor: setting Lifeboat up, keeping what rebuilds it, and checking it can work.
import type { Command } from "commander";
import { doctor } from "../admin/doctor.js";
import { init } from "../admin/init.js";
import { buildKit, renderIam, renderKit } from "../admin/kit.js";
import { ExitCode } from "../errors.js";
import type { CommandRunner } from "./context.js";

export function registerAdmin(program: Command, run: CommandRunner): void {
  program
    .command("init")
    .description(
      "prepare targets: generate a repository key where none exists (never replacing one) and create each host's repository",
    )
    .option("--target <name>", "only this storage target")
    .action((opts: { target?: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const outcome = await init({ config, target: opts.target, logger: ctx.logger });
        ctx.print(outcome, () =>
          outcome.targets
            .flatMap((t) => [
              `${t.target}: ${
                t.keyGenerated
                  ? `NEW REPOSITORY KEY ${t.keyFile}: copy it somewhere safe and offline now; losing it loses the data`
                  : t.keyFile
                    ? `key file ${t.keyFile} (kept as it is)`
                    : `password from $${t.passwordEnv}`
              }`,
              ...t.hosts.map((h) => `  ${h.host}: repository ${h.repository}`),
            ])
            .join("\n"),
        );
      }),
    );

  program
    .command("kit")
    .description(
      "print the recovery kit to keep offline: everything needed to rebuild Lifeboat on a new controller",
    )
    .option(
      "--show-secrets",
      "include the repository passwords (print it straight to paper or a password manager)",
    )
    .option("--iam", "print the S3 access policies: the controller's key, and each remote host's own key")
    .action((opts: { showSecrets?: boolean; iam?: boolean }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const kit = await buildKit(config, opts.showSecrets ?? false);
        ctx.print(kit, () => (opts.iam ? renderIam(kit) : renderKit(kit)));
      }),
    );

  program
    .command("doctor")
    .description(
      "check restic, config, credentials, buckets (write/read/delete), clocks, keys and repositories",
    )
    .addHelpText(
      "after",
      "\nExit status: 0 when every check passes; otherwise the exit code of the first failure.",
    )
    .action(() =>
      run(async (ctx) => {
        const checks = await doctor({ configFile: ctx.options.config, logger: ctx.logger });
        ctx.print(checks, () =>
          checks
            .map(
              (c) =>
                `${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}${c.hint && !c.ok ? `\n       -> ${c.hint}` : ""}`,
            )
            .join("\n"),
        );
        return checks.find((c) => !c.ok)?.exitCode ?? ExitCode.ok;
      }),
    );
}
