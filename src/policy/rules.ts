// Rules over a schema-valid policy's classification: every path has exactly one class.
import type { LocatedDocument, Problem } from "../yaml/located.js";
import { nearestEntryIndex, normalizePath, parentOf } from "./classify.js";
import { DATA_CLASSES, type DataClass } from "./schema.js";

interface Seen {
  dataClass: DataClass;
  index: number;
  line: number;
  path: string;
}

/** Problems in the classification; entries that are not well-formed paths (undefined) are skipped. */
export function classificationProblems(
  doc: LocatedDocument,
  classes: Record<DataClass, ReadonlyArray<string | undefined>>,
): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, Seen>();
  const all: Seen[] = [];
  for (const dataClass of DATA_CLASSES) {
    classes[dataClass].forEach((raw, index) => {
      if (raw === undefined) return;
      const path = normalizePath(raw);
      const line = doc.lineOf([dataClass, index]);
      const first = seen.get(path);
      if (first) {
        const where = first.dataClass === dataClass ? "twice" : `in both ${first.dataClass} and ${dataClass}`;
        problems.push(
          doc.problem(
            [dataClass, index],
            `${path} is listed ${where} (first at line ${first.line}); give each path one class`,
          ),
        );
        return;
      }
      const entry = { dataClass, index, line, path };
      seen.set(path, entry);
      all.push(entry);
    });
  }
  // A nested entry must refine its parent: same class as the nearest enclosing entry says nothing new. The
  // parent is found by walking up the entry's own path (its depth), not by comparing every pair.
  const nearest = nearestEntryIndex(all);
  for (const e of all) {
    const parent = e.path === "/" ? undefined : nearest(parentOf(e.path));
    if (parent && parent.dataClass === e.dataClass) {
      problems.push(
        doc.problem(
          [e.dataClass, e.index],
          `${e.path} is inside ${e.dataClass} ${parent.path} (line ${parent.line}) and so already ${e.dataClass}; remove one`,
        ),
      );
    }
  }
  return problems;
}
