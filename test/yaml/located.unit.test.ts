import { expect, it } from "vitest";
import { parseYaml } from "../../src/yaml/located.js";

const text = `# comment
host: web1
retention:
  daily: 7
irreplaceable:
  - /a
  - /b
empty:
`;

it("finds the line of values, nested keys, list items and empty values", () => {
  const r = parseYaml(text, "f.yaml");
  if (!r.ok) throw new Error("parse failed");
  expect(r.doc.lineOf(["host"])).toBe(2);
  expect(r.doc.lineOf(["retention", "daily"])).toBe(4);
  expect(r.doc.lineOf(["irreplaceable", 1])).toBe(7);
  expect(r.doc.lineOf(["empty"])).toBe(8);
  // A path that does not exist points at its nearest ancestor.
  expect(r.doc.lineOf(["retention", "weekly"])).toBe(3);
});

it("reports duplicate keys as YAML problems with their line", () => {
  const r = parseYaml("host: a\nhost: b\n", "f.yaml");
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.problems[0]).toMatchObject({ file: "f.yaml", line: 2 });
});
