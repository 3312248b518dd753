// A host's runbook as it is at a git ref of the policies repository: the ref's tree is unpacked into a private
// directory and the runbook loaded from there with the usual loader, so its files are the ref's files too.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { LifeboatConfig } from "../config/load.js";
import { LifeboatError } from "../errors.js";
import type { Policy } from "../policy/load.js";
import { onlyEnv } from "../util/child-env.js";
import { type Runbook, requireRunbook, runbookFileOf } from "./load.js";

export interface RunbookAtRef {
  runbook: Runbook;
  /** The commit the ref named. */
  commit: string;
  /** The unpacked tree: the runbook's files live here until `dispose`. */
  dir: string;
  dispose(): Promise<void>;
}

async function git(cwd: string, args: string[]): Promise<string> {
  const r = await execa("git", ["-C", cwd, ...args], { reject: false, stdin: "ignore", ...onlyEnv() });
  if (r.exitCode !== 0) throw new Error(String(r.stderr).trim() || `git ${args[0]} exited ${r.exitCode}`);
  return String(r.stdout).trim();
}

/** The repository holding the runbook, and the runbook's path inside it. */
export async function runbookInRepository(
  config: LifeboatConfig,
  policy: Policy,
): Promise<{ root: string; relative: string }> {
  const file = runbookFileOf(config, policy);
  let root: string;
  try {
    root = await git(path.dirname(file), ["rev-parse", "--show-toplevel"]);
  } catch {
    throw new LifeboatError(
      "USAGE",
      `${path.dirname(file)} is not in a git repository: there is no ref to compare`,
      {
        hint: "Keep the policies and runbooks in git (`git init`, commit them), then name a branch, tag or commit.",
      },
    );
  }
  return { root, relative: path.relative(root, file) };
}

export async function runbookAtRef(
  config: LifeboatConfig,
  policy: Policy,
  ref: string,
): Promise<RunbookAtRef> {
  const { root, relative } = await runbookInRepository(config, policy);
  let commit: string;
  try {
    commit = await git(root, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  } catch {
    throw new LifeboatError("USAGE", `${ref} is not a branch, tag or commit of ${root}`, {
      hint: "`git -C <repository> log --oneline --all` lists what there is; fetch a remote branch first.",
    });
  }
  const dir = await mkdtemp(path.join(tmpdir(), "lifeboat-ref-"));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const tarball = path.join(dir, ".ref.tar");
    await git(root, ["archive", "--format=tar", "-o", tarball, commit]);
    const tree = path.join(dir, "tree");
    await mkdir(tree);
    await execa("tar", ["-x", "-f", tarball, "-C", tree], onlyEnv());
    const file = path.join(tree, relative);
    const runbook = await requireRunbook(config, { ...policy, runbook: file }, { root: tree }).catch(
      (err: unknown) => {
        if (err instanceof LifeboatError && err.code === "RUNBOOK_INVALID")
          throw new LifeboatError(
            "RUNBOOK_INVALID",
            `at ${ref} (${commit.slice(0, 8)}): ${err.message.replaceAll(`${tree}/`, "")}`,
            { hint: err.hint },
          );
        throw err;
      },
    );
    return { runbook, commit, dir, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
