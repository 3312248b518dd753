// Checksums of every regular file in a tree, keyed by path relative to the tree.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { SENTINEL_FILE } from "../../src/snapshot/sentinel.js";

/** Every regular file's sha256, except Lifeboat's own sentinels (a snapshot adds one to each directory). */
export async function treeChecksums(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || entry.name === SENTINEL_FILE) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(root, file)] = createHash("sha256")
      .update(await readFile(file))
      .digest("hex");
  }
  return out;
}
