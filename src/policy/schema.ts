// policies/<host>.yaml: which of a host's data is irreplaceable, rebuildable or ignored.
import { z } from "zod";
import { checkSlices, cron, duration, hostName, retention, targetName } from "../schema/common.js";

/** An absolute, literal path: no `..`, no glob characters (patterns belong in `exclude`). */
export const classifiedPath = z.string().superRefine((p, ctx) => {
  if (!p.startsWith("/"))
    ctx.addIssue({ code: "custom", message: `"${p}" must be an absolute path (start with /)` });
  else if (p.split("/").includes(".."))
    ctx.addIssue({ code: "custom", message: `"${p}" must not contain ".." segments` });
  else if (/[*?[\]\\]/.test(p)) {
    ctx.addIssue({
      code: "custom",
      message: `"${p}" contains a glob character; list literal paths, put patterns in exclude`,
    });
  }
});

export const transport = z.literal("local", {
  error: () => 'must be "local" (the ssh and container transports are not available yet)',
});

export const policySchema = z.strictObject({
  host: hostName,
  transport: transport.default("local"),
  /** A storage target named in lifeboat.yaml; default: defaults.repository. */
  repository: targetName.optional(),
  schedule: cron.optional(),
  rpo: duration.optional(),
  retention: retention.optional(),
  checkSlices: checkSlices.optional(),
  irreplaceable: z
    .array(classifiedPath)
    .min(1, "list at least one irreplaceable path; a host with nothing irreplaceable needs no policy"),
  rebuildable: z.array(classifiedPath).default([]),
  ignored: z.array(classifiedPath).default([]),
  /** restic exclude patterns applied inside the irreplaceable paths (e.g. "*.tmp"). */
  exclude: z
    .array(
      z
        .string()
        .min(1, "an exclude pattern cannot be empty")
        .refine((p) => !p.startsWith("!"), {
          message:
            "negated patterns would read data outside the irreplaceable class; classify the path instead",
        }),
    )
    .default([]),
  /** The host's runbook, relative to lifeboat.yaml's directory. */
  runbook: z.string().min(1).optional(),
});

export type PolicyFile = z.infer<typeof policySchema>;
export type DataClass = "irreplaceable" | "rebuildable" | "ignored";
export const DATA_CLASSES: readonly DataClass[] = ["irreplaceable", "rebuildable", "ignored"];
