// Field schemas shared by lifeboat.yaml and policies, so both say the same thing about the same mistake.
import cronParser from "cron-parser";
import { z } from "zod";
import { parseDuration } from "../util/duration.js";

export const hostName = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/,
    "must be a host name: letters, digits, dots and dashes, starting and ending with a letter or digit",
  );

export const targetName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, "must be lower-case letters, digits and dashes, starting with a letter");

export const duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined && (parseDuration(s) ?? 0) > 0, {
    message: "must be a duration like 90s, 30m, 24h, 7d, 2w or 1h30m",
  });

export function cronProblem(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    return `"${expr}" has ${fields.length} fields; a cron schedule has 5 (minute hour day month weekday) or 6 (seconds first)`;
  }
  try {
    cronParser.parseExpression(expr);
    return undefined;
  } catch (err) {
    return `"${expr}" is not a valid cron schedule: ${(err as Error).message}`;
  }
}

export const cron = z.string().superRefine((expr, ctx) => {
  const problem = cronProblem(expr);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const keep = z.number().int().min(0);
export const retention = z
  .strictObject({
    last: keep.optional(),
    hourly: keep.optional(),
    daily: keep.optional(),
    weekly: keep.optional(),
    monthly: keep.optional(),
    yearly: keep.optional(),
  })
  .refine((r) => Object.values(r).some((n) => (n ?? 0) > 0), {
    message: "keeps nothing: set at least one of last, hourly, daily, weekly, monthly, yearly above 0",
  });
export type Retention = z.infer<typeof retention>;

export const checkSlices = z
  .number()
  .int()
  .min(1, "must be at least 1 (1 reads all data every check)")
  .max(1000);

/** An address a person reads: name@domain (no display names, so it is plain in logs too). */
export const emailAddress = z
  .string()
  .regex(/^[^\s@<>]+@[^\s@<>]+$/, "must be an email address like ops@example.org");

const share = z
  .string()
  .regex(/^\d{1,3}(\.\d+)?%$/, "must be a percentage like 50%")
  .transform((s) => Number(s.slice(0, -1)) / 100)
  .refine((n) => n > 0 && n <= 1, "must be above 0% and at most 100%");

/**
 * When a snapshot is suspicious (data deleted or encrypted): it lost more than `shrink` of the files or bytes of
 * the previous good one, or more than `changed` of its files changed content (with at least `minFiles` files).
 * `false` turns the guard off.
 */
export const guard = z.union([
  z.literal(false),
  z.strictObject({
    shrink: share.default(0.5),
    changed: share.default(0.6),
    minFiles: z.number().int().min(1).default(20),
  }),
]);
export type Guard = z.infer<typeof guard>;
export const DEFAULT_GUARD: Guard = { shrink: 0.5, changed: 0.6, minFiles: 20 };
