// The recovery report as a JSON Schema (draft 2020-12), for whoever reads reports without Lifeboat: published
// as schemas/report.schema.json (scripts/report-schema.ts), checked against real reports in the tests.
import { z } from "zod";
import { REPORT_VERSION, recoveryReportSchema } from "./schema.ts";

export function reportJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://lifeboat.invalid/schemas/report.schema.json",
    title: `Lifeboat recovery report (version ${REPORT_VERSION})`,
    description:
      "One recovery, drill or stage: its verdict, phases, steps, restored data, RPO of each item, RTO, checks and cleanup. Fields are described in README.md (Reports).",
    ...z.toJSONSchema(recoveryReportSchema, { target: "draft-2020-12", io: "output" }),
  };
}
