// Writes schemas/report.schema.json, the JSON Schema of the recovery report (what `lifeboat report --json`
// prints and the catalog keeps), from its zod schema: `node scripts/report-schema.ts` after changing
// src/report/schema.ts. A unit test fails while the file is stale.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { reportJsonSchema } from "../src/report/json-schema.ts";

const file = path.resolve(import.meta.dirname, "../schemas/report.schema.json");
writeFileSync(file, `${JSON.stringify(reportJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
