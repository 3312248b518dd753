import type { Command } from "commander";
import { policyForHost } from "../policy/load.js";
import { runbookAtRef } from "../runbook/at-ref.js";
import { diffRunbooks, type RunbookDiff } from "../runbook/diff.js";
import { requireRunbook } from "../runbook/load.js";
import type { CommandRunner } from "./context.js";

const MARK = { added: "+", removed: "-", changed: "~" } as const;

function planDiffText(host: string, d: RunbookDiff): string {
  const lines = [`runbook of ${host}: ${d.from} -> ${d.to}`];
  if (!d.steps.length && !d.files.length && !d.other.length) return `${lines[0]}\nno differences`;
  if (d.steps.length) lines.push("steps:");
  for (const s of d.steps) {
    lines.push(`  ${MARK[s.change]} ${s.name} (${s.change})`);
    for (const detail of s.details) lines.push(`      ${detail}`);
  }
  if (d.files.length) lines.push("files:");
  for (const f of d.files) {
    lines.push(`  ${MARK[f.change]} ${f.path}`);
    if (f.diff) lines.push(...f.diff.split("\n").map((l) => `    ${l}`));
  }
  for (const o of d.other) lines.push(`${o}`);
  return lines.join("\n");
}

export function registerPlan(program: Command, run: CommandRunner): void {
  program
    .command("plan")
    .description(
      "what a changed runbook would do differently, before anything is provisioned: steps and files added, removed or changed, with a diff of file contents",
    )
    .requiredOption("--host <host>", "the host whose runbook changed")
    .option(
      "--ref <ref>",
      "the runbook as it is at this git branch, tag or commit, against the working tree's (default: the working tree against HEAD)",
    )
    .action((opts: { host: string; ref?: string }) =>
      run(async (ctx) => {
        const config = await ctx.loadConfig();
        const policy = await policyForHost(config, opts.host);
        const working = await requireRunbook(config, policy);
        const other = await runbookAtRef(config, policy, opts.ref ?? "HEAD");
        try {
          const at = `${opts.ref ?? "HEAD"} (${other.commit.slice(0, 8)})`;
          const diff = opts.ref
            ? await diffRunbooks(working, other.runbook, { from: "working tree", to: at })
            : await diffRunbooks(other.runbook, working, { from: at, to: "working tree" });
          ctx.print(diff, () => planDiffText(policy.host, diff));
        } finally {
          await other.dispose();
        }
      }),
    );
}
