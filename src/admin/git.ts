// Where the policies and runbooks come from, for the recovery kit.
import { execa } from "execa";
import { onlyEnv } from "../util/child-env.js";

export interface SourceInfo {
  directory: string;
  remote: string | undefined;
  commit: string | undefined;
  /** Uncommitted changes: the kit would point at code that is not in the repository. */
  dirty: boolean;
}

export async function sourceInfo(directory: string): Promise<SourceInfo> {
  const git = async (...args: string[]) => {
    const r = await execa("git", ["-C", directory, ...args], {
      reject: false,
      stdin: "ignore",
      ...onlyEnv(),
    });
    return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
  };
  const commit = await git("rev-parse", "HEAD");
  if (!commit) return { directory, remote: undefined, commit: undefined, dirty: false };
  const remote = await git("remote", "get-url", "origin");
  const status = await git("status", "--porcelain", "--", ".");
  return { directory, remote, commit, dirty: Boolean(status) };
}
