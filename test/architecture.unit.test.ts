// The shape of src/: no module imports itself back through others. A cycle makes load order decide what is
// defined (a class undefined at import time) and ties modules that should change apart.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";

const SRC = path.resolve(import.meta.dirname, "../src");

function modules(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = readFileSync(file, "utf8");
    // Static imports and re-exports (type-only ones too: they tie the modules as much) and dynamic import().
    const specifiers = [
      ...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"(\.[^"]+)"/gms),
      ...text.matchAll(/\bimport\(\s*"(\.[^"]+)"\s*\)/g),
    ].map((m) => m[1] ?? "");
    graph.set(
      path.relative(SRC, file),
      specifiers.map((s) => path.relative(SRC, path.resolve(path.dirname(file), s.replace(/\.js$/, ".ts")))),
    );
  }
  return graph;
}

/** Every cycle, as the path that closes it (a → b → a), found by depth-first search. */
function cycles(graph: Map<string, string[]>): string[] {
  const found = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, "open");
    stack.push(m);
    for (const next of graph.get(m) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") found.add([...stack.slice(stack.indexOf(next)), next].join(" → "));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(m, "done");
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return [...found];
}

test("src/ has no import cycles", () => {
  const graph = modules();
  expect(graph.size).toBeGreaterThan(50);
  expect(cycles(graph)).toEqual([]);
});

test("the cycle finder finds a cycle", () => {
  const graph = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["c.ts"]],
    ["c.ts", ["a.ts"]],
    ["d.ts", ["a.ts"]],
  ]);
  expect(cycles(graph)).toEqual(["a.ts → b.ts → c.ts → a.ts"]);
});
