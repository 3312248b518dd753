import type { z } from "zod";
import type { FieldPath, LocatedDocument, Problem } from "./located.js";

/** Every zod issue as a located problem; unknown keys point at the key itself. */
export function zodProblems(doc: LocatedDocument, error: z.ZodError): Problem[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol") as FieldPath;
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => doc.problem([...path, key], `unknown key "${key}"`));
    }
    return [doc.problem(path, issue.message)];
  });
}
