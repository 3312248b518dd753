// lifeboat.yaml: storage targets and defaults shared by every policy.
import { z } from "zod";
import { cron, duration, retention, targetName } from "../schema/common.js";

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

export const localTarget = z
  .strictObject({
    type: z.literal("local"),
    /** Directory holding one repository per host; default <state dir>/repositories/<target>. */
    path: z.string().startsWith("/", "must be an absolute path").optional(),
    /** A 0600 file with the repository password; generated when the first repository is created. */
    passwordFile: z.string().startsWith("/", "must be an absolute path").optional(),
    /** Or: the environment variable that holds the password. */
    passwordEnv: envVarName.optional(),
  })
  .refine((t) => !(t.passwordFile && t.passwordEnv), {
    message: "set passwordFile or passwordEnv, not both",
  });

export const targetSchema = z.discriminatedUnion("type", [localTarget], {
  error: (issue) =>
    issue.code === "invalid_union" ? 'type: must be "local" (S3 targets are not available yet)' : undefined,
});

export const configSchema = z.strictObject({
  policies: z.string().default("policies"),
  runbooks: z.string().default("runbooks"),
  targets: z.record(targetName, targetSchema).refine((t) => Object.keys(t).length > 0, {
    message: "name at least one storage target",
  }),
  defaults: z
    .strictObject({
      repository: targetName.optional(),
      schedule: cron.default("30 2 * * *"),
      rpo: duration.default("24h"),
      retention: retention.default({ daily: 7, weekly: 4, monthly: 6 }),
    })
    .prefault({}),
});

export type ConfigFile = z.infer<typeof configSchema>;
