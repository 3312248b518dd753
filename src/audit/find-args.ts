// The one `find` an audit runs on a host (no imports: bench/audit runs it raw as its floor).

/**
 * find's arguments: every file and symlink under `roots` on their own filesystems, `pruned` paths not entered,
 * printed as "type \t size \t mtime \t link target \t path \0" (metadata only; no content read).
 */
export function scanArgv(roots: readonly string[], pruned: readonly string[]): string[] {
  const prune = pruned.flatMap((p, i) => [...(i ? ["-o"] : []), "-path", p]);
  return [
    "find",
    ...roots,
    "-xdev",
    ...(prune.length ? ["(", ...prune, ")", "-prune", "-o"] : []),
    "(",
    "-type",
    "f",
    "-o",
    "-type",
    "l",
    ")",
    "-printf",
    "%y\\t%s\\t%T@\\t%l\\t%p\\0",
  ];
}
