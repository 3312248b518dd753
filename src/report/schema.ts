// The restore-test report of a recovery or drill: what the catalog keeps, what an email carries as JSON, what
// `lifeboat report` renders. Versioned: a reader knows which fields to expect.
import { z } from "zod";

export const REPORT_VERSION = 1;

const phaseName = z.enum(["provision", "configure", "restore", "start", "verify", "teardown"]);
const status = z.enum(["passed", "failed", "skipped"]);

export const stepResultSchema = z.object({
  name: z.string(),
  kind: z.string(),
  status,
  seconds: z.number(),
  exitCode: z.number().optional(),
  /** Why it failed, in one line. */
  error: z.string().optional(),
  /** The last lines of its output, for a failed step. */
  outputTail: z.string().optional(),
});

export const checkResultSchema = z.object({
  name: z.string(),
  kind: z.string(),
  status,
  attempts: z.number(),
  seconds: z.number(),
  /** What the last attempt found: why it failed, or the value that passed. */
  detail: z.string(),
});

const snapshotSchema = z.object({
  id: z.string(),
  shortId: z.string(),
  time: z.string(),
  ageSeconds: z.number(),
  files: z.number().optional(),
  bytes: z.number().optional(),
});

const dumpSchema = z.object({
  file: z.string(),
  engine: z.enum(["postgres", "mysql", "sqlite"]),
  database: z.string(),
  snapshotId: z.string(),
  time: z.string(),
  bytes: z.number().optional(),
});

export const recoveryReportSchema = z.object({
  version: z.literal(REPORT_VERSION),
  runId: z.string(),
  mode: z.enum(["recovery", "drill", "stage"]),
  trigger: z.enum(["manual", "schedule"]),
  host: z.string(),
  verdict: z.enum(["passed", "failed"]),
  /** False for a first build without data (`recover --no-data`): nothing restored, no checks. */
  withData: z.boolean(),
  startedAt: z.string(),
  finishedAt: z.string(),
  machine: z.string(),
  address: z.string().optional(),
  provider: z.string(),
  snapshot: snapshotSchema.optional(),
  dumps: z.array(dumpSchema),
  rpo: z.object({
    targetSeconds: z.number(),
    /** The snapshot's age when the recovery started. */
    snapshotAgeSeconds: z.number().optional(),
    /** The sentinel's age, read back from the restored data. */
    sentinelAgeSeconds: z.number().optional(),
    sentinelRunId: z.string().optional(),
    met: z.boolean().optional(),
  }),
  rto: z.object({ targetSeconds: z.number().optional(), seconds: z.number(), met: z.boolean().optional() }),
  phases: z.array(z.object({ name: phaseName, status, seconds: z.number() })),
  steps: z.array(stepResultSchema),
  checks: z.array(checkResultSchema),
  restored: z
    .object({
      files: z.number(),
      bytes: z.number(),
      databases: z.array(
        z.object({ engine: z.string(), database: z.string(), bytes: z.number().optional() }),
      ),
      resticVersion: z.string(),
      /** Whether Lifeboat copied its restic to the new machine for the restore. */
      resticCopied: z.boolean(),
    })
    .optional(),
  /** What failed first, for the report's headline. */
  failure: z
    .object({
      phase: phaseName,
      step: z.string().optional(),
      code: z.string(),
      message: z.string(),
      exitCode: z.number().optional(),
      outputTail: z.string().optional(),
    })
    .optional(),
  /**
   * A drill's rebuild against production, before the data went back: the rebuildable paths' files present on
   * one side only or different, and the installed packages. Not counted in the RTO.
   */
  drift: z
    .object({
      compared: z.boolean(),
      reason: z.string().optional(),
      seconds: z.number(),
      paths: z.array(z.string()),
      notCompared: z.array(z.string()).optional(),
      files: z.object({
        onlyProduction: z.array(z.string()),
        onlyRebuilt: z.array(z.string()),
        differ: z.array(z.string()),
        counts: z.object({
          same: z.number(),
          onlyProduction: z.number(),
          onlyRebuilt: z.number(),
          differ: z.number(),
        }),
      }),
      packages: z
        .object({
          onlyProduction: z.array(z.string()),
          onlyRebuilt: z.array(z.string()),
          versionDiffers: z.array(
            z.object({ name: z.string(), production: z.string(), rebuilt: z.string() }),
          ),
        })
        .optional(),
    })
    .optional(),
  /** A drill's machine: removed, kept (--keep) or the removal failed. */
  cleanup: z.enum(["removed", "kept", "failed", "not needed"]),
  cleanupHint: z.string().optional(),
  resticVersion: z.string(),
  lifeboatVersion: z.string(),
});

export type RecoveryReport = z.infer<typeof recoveryReportSchema>;
export type StepResult = z.infer<typeof stepResultSchema>;
export type CheckResult = z.infer<typeof checkResultSchema>;
export type PhaseResult = RecoveryReport["phases"][number];
