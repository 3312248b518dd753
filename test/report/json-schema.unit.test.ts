// The published JSON Schema of the report (schemas/report.schema.json) is the zod schema's: regenerate it with
// `node scripts/report-schema.ts` when the report changes. Real reports are validated against the file in
// test/recovery/databases.test.ts.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect, test } from "vitest";
import { reportJsonSchema } from "../../src/report/json-schema.js";
import { reportSchemaErrors } from "../helpers/report-schema.js";

test("schemas/report.schema.json is current", async () => {
  const file = path.resolve(import.meta.dirname, "../../schemas/report.schema.json");
  expect(JSON.parse(await readFile(file, "utf8")), "run: node scripts/report-schema.ts").toEqual(
    reportJsonSchema(),
  );
});

test("the published schema rejects what a report may not be", () => {
  expect(reportSchemaErrors({ version: 2, verdict: "maybe" })).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^\/ must have required property 'runId'/),
      "/verdict must be equal to one of the allowed values",
    ]),
  );
});
