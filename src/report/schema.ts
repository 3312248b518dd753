// The restore-test report of a recovery or drill: what the catalog keeps, what an email carries as JSON, what
// `lifeboat report` renders. Versioned: a reader knows which fields to expect.
import { z } from "zod";

// 2: verdict "passed-with-warnings" and `warnings`, the RPO of each restored item, a hint for the failure, isolation.
export const REPORT_VERSION = 2;

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
  /** Why it was skipped when it was done before: "in the baked image <digest>". */
  detail: z.string().optional(),
  /** The last lines of its output, for a failed step. */
  outputTail: z.string().optional(),
});

export const checkResultSchema = z.object({
  name: z.string(),
  kind: z.string(),
  status,
  attempts: z.number(),
  seconds: z.number(),
  /** Why it failed when it is not the check's own finding: CHECK_NOT_ISOLATED (it would not test the machine). */
  code: z.string().optional(),
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
  runId: z.string().optional(),
});

const dumpSchema = z.object({
  file: z.string(),
  engine: z.enum(["postgres", "mysql", "sqlite", "redis"]),
  database: z.string(),
  snapshotId: z.string(),
  time: z.string(),
  bytes: z.number().optional(),
  runId: z.string().optional(),
  runsAgo: z.number().optional(),
});

const rpoItemSchema = z.object({
  /** "/srv/app/uploads" or "postgres app". */
  item: z.string(),
  kind: z.enum(["files", "dump"]),
  ageSeconds: z.number(),
  /** Where the age comes from: the sentinel read back from the restored data, or the snapshot's time. */
  source: z.enum(["sentinel", "snapshot"]),
  /** The snapshot run that saved it. */
  runId: z.string().optional(),
  /** For a dump from an earlier run than the files (its own dump failed since): how many runs older. */
  runsAgo: z.number().optional(),
  met: z.boolean(),
});

export const recoveryReportSchema = z.object({
  // Reports of version 1 (before per-item RPO) are still read from the catalog.
  version: z.union([z.literal(1), z.literal(REPORT_VERSION)]),
  runId: z.string(),
  mode: z.enum(["recovery", "drill", "stage"]),
  trigger: z.enum(["manual", "schedule"]),
  host: z.string(),
  /** passed-with-warnings: it came back and passed its checks, but something in `warnings` needs a person. */
  verdict: z.enum(["passed", "passed-with-warnings", "failed"]),
  warnings: z.array(z.object({ code: z.string(), message: z.string() })).default([]),
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
    /** Whether the oldest item's age is within the target (the report's RPO is the oldest item's). */
    met: z.boolean().optional(),
    /** The age of every restored item: each irreplaceable root by its sentinel, each dump by its snapshot. */
    items: z.array(rpoItemSchema).default([]),
  }),
  /** How the drill or stage machine was kept from production and the network, and whether that was enforced. */
  isolation: z.object({ enforced: z.boolean(), detail: z.string() }).optional(),
  rto: z.object({ targetSeconds: z.number().optional(), seconds: z.number(), met: z.boolean().optional() }),
  /**
   * How the machine was built: by the runbook's steps (code), or from an image baked from them whose digest is the
   * runbook's now. `otherRto` is the RTO of the last passed run of this host along the other path.
   */
  build: z
    .object({
      from: z.enum(["code", "image"]),
      digest: z.string().optional(),
      image: z.string().optional(),
      why: z.string(),
      otherRto: z
        .object({ from: z.enum(["code", "image"]), seconds: z.number(), runId: z.string(), at: z.string() })
        .optional(),
    })
    .optional(),
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
      /** What to do about it. */
      hint: z.string().optional(),
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
      skipped: z.array(z.string()).optional(),
      expected: z.array(z.string()).optional(),
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
export type RpoItem = z.infer<typeof rpoItemSchema>;
export type PhaseResult = RecoveryReport["phases"][number];
