// Validates a report against the published JSON Schema (schemas/report.schema.json) with a validator of its own
// (ajv), as a reader without Lifeboat would: what the schema promises must hold for the reports Lifeboat writes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const schema = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, "../../schemas/report.schema.json"), "utf8"),
) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
// ajv-formats is CommonJS: its default import is the plugin, or a namespace holding it, by loader.
(addFormats.default ?? (addFormats as unknown as typeof addFormats.default))(ajv);
const validate = ajv.compile(schema);

/** The schema's complaints about `report` (empty when it is valid). */
export function reportSchemaErrors(report: unknown): string[] {
  if (validate(report)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`);
}
