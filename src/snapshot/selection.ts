// What a snapshot of a policy reads: the irreplaceable roots and the patterns that keep everything else out.
import { createHash } from "node:crypto";
import { backupSelection } from "../policy/classify.js";
import type { Policy } from "../policy/load.js";
import { hostTag, LIFEBOAT_TAG, policyTag } from "./tags.js";

export interface SnapshotSelection {
  roots: string[];
  excludes: string[];
  tags: string[];
}

export function snapshotSelection(policy: Policy): SnapshotSelection {
  const { roots, excludes } = backupSelection(policy.entries);
  // The policy's own patterns go last so that they can only take more out, never put rebuildable data back.
  const all = [...excludes, ...policy.exclude];
  const digest = createHash("sha256").update(JSON.stringify({ roots, all })).digest("hex").slice(0, 12);
  return { roots, excludes: all, tags: [LIFEBOAT_TAG, hostTag(policy.host), policyTag(digest)] };
}
