// Run records: one JSON object when a run starts and one when it ends, each written once. A start without
// an end is a run that died (or is still going); status reports it as failed.
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import { asLifeboatError, type LifeboatError } from "../errors.js";
import { VERSION } from "../version.js";
import { ENTRY_BODY, indexKeys, parseRunKey, runKey } from "./keys.js";

export { parseRunKey, runKey } from "./keys.js";

import { type MalformedSink, parseCatalogJson, warnMalformed } from "./read.js";
import type { CatalogStore } from "./types.js";

export const RUN_KINDS = [
  "snapshot",
  "prune",
  "check",
  "recovery",
  "drill",
  "stage",
  "replicate",
  "bake",
] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const runRecordSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  host: z.string(),
  kind: z.enum(RUN_KINDS),
  phase: z.enum(["start", "end"]),
  trigger: z.enum(["manual", "schedule"]),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  /** skipped: the daemon did not start it because the host's previous run was still going. */
  outcome: z.enum(["running", "succeeded", "failed", "interrupted", "skipped"]),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  snapshotId: z.string().optional(),
  bytesAdded: z.number().optional(),
  filesNew: z.number().optional(),
  filesChanged: z.number().optional(),
  totalFiles: z.number().optional(),
  totalBytes: z.number().optional(),
  resticVersion: z.string().optional(),
  lifeboatVersion: z.string(),
  /** Kind-specific facts (the check's data slice, what retention removed...). */
  details: z.record(z.string(), z.unknown()).optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;
export type RunFacts = Partial<
  Omit<RunRecord, "version" | "id" | "host" | "kind" | "phase" | "trigger" | "startedAt">
>;

/** A new run's id: made before the run starts, so that its plan and names can carry it. */
export const newRunId = (): string => randomBytes(6).toString("hex");

export interface RecordOptions {
  /** The run's id (newRunId()); a new one when absent. */
  id?: string | undefined;
  catalog: CatalogStore;
  host: string;
  kind: RunKind;
  trigger?: "manual" | "schedule";
  logger?: Logger | undefined;
  /** Facts known before the run (a check's slice): in the end record whatever the outcome. */
  known?: RunFacts;
  /** Facts learnt while the run went (the hooks that ran): in the end record whatever the outcome. */
  learnt?: () => RunFacts;
}

/**
 * Runs `fn` between a start record and an end record. The end record carries the outcome, the error's code
 * and message (already free of secrets), and the facts `facts` derives from the result. A result can itself be a
 * failure (a drill whose check failed): `verdict` says so with the error to record and throw, and the result's
 * facts are recorded too.
 */
export async function recordRun<T>(
  options: RecordOptions,
  fn: (run: { id: string; startedAt: string }) => Promise<T>,
  facts: (result: T) => RunFacts,
  verdict: (result: T) => LifeboatError | undefined = () => undefined,
): Promise<T> {
  const base = {
    version: 1 as const,
    id: options.id ?? newRunId(),
    host: options.host,
    kind: options.kind,
    trigger: options.trigger ?? "manual",
    startedAt: new Date().toISOString(),
    lifeboatVersion: VERSION,
  };
  await putRecord(options.catalog, { ...base, phase: "start", outcome: "running" });
  const end = async (record: RunFacts): Promise<void> => {
    const learnt = options.learnt?.();
    const full = {
      ...base,
      phase: "end" as const,
      finishedAt: new Date().toISOString(),
      ...options.known,
      ...learnt,
      ...record,
      ...(learnt?.details || record.details ? { details: { ...learnt?.details, ...record.details } } : {}),
    };
    try {
      await putRecord(options.catalog, full);
    } catch (err) {
      // The run's own outcome stands; status will show this run as unfinished.
      options.logger?.error(
        { err: (err as Error).message, run: base.id },
        "could not write the run's end record; it is kept locally and written at the next run",
      );
    }
  };
  const failed = (code: string, message: string) => ({
    outcome: code === "INTERRUPTED" ? ("interrupted" as const) : ("failed" as const),
    error: { code, message },
  });
  let result: T;
  try {
    result = await fn({ id: base.id, startedAt: base.startedAt });
  } catch (err) {
    const typed = asLifeboatError(err);
    await end(
      failed(typed.code, typed.code === "INTERNAL" && err instanceof Error ? err.message : typed.message),
    );
    throw typed;
  }
  const failure = verdict(result);
  await end({
    ...facts(result),
    ...(failure ? failed(failure.code, failure.message) : { outcome: "succeeded" }),
  });
  if (failure) throw failure;
  return result;
}

/** Records a run the daemon did not start (its host was busy): one end record, outcome skipped. */
export async function recordSkipped(
  catalog: CatalogStore,
  /** `ticks`: the scheduled times this record stands for (the rest of a busy spell is one record). */
  run: { host: string; kind: RunKind; reason: string; ticks?: number | undefined },
): Promise<void> {
  const now = new Date().toISOString();
  const record: RunRecord = {
    version: 1,
    id: newRunId(),
    host: run.host,
    kind: run.kind,
    phase: "end",
    trigger: "schedule",
    startedAt: now,
    finishedAt: now,
    outcome: "skipped",
    lifeboatVersion: VERSION,
    details: { reason: run.reason, ...(run.ticks === undefined ? {} : { ticks: run.ticks }) },
  };
  await putRecord(catalog, record);
}

/** Writes a run record, then its index entries (a record the index does not name would never be found). */
export async function putRecord(
  catalog: CatalogStore,
  record: Pick<RunRecord, "host" | "startedAt" | "id" | "kind" | "phase"> & { outcome?: string | undefined },
): Promise<void> {
  await catalog.put(runKey(record), JSON.stringify(record));
  const facts = { ...record, outcome: record.outcome ?? "failed" };
  await Promise.all(indexKeys(facts).map((key) => catalog.put(key, ENTRY_BODY)));
}

export interface RunSummary {
  id: string;
  host: string;
  kind: string;
  startedAt: string;
  /** The key of the start record (a skipped run has none). */
  startKey: string | undefined;
  /** The key of the end record, or undefined for a run that never finished. */
  endKey: string | undefined;
}

/** A host's runs, oldest first, from the catalog's keys alone (no record is fetched). */
export async function listRuns(catalog: CatalogStore, host: string): Promise<RunSummary[]> {
  const runs = new Map<string, RunSummary>();
  for (const key of await catalog.list(`runs/${host}/`)) {
    const k = parseRunKey(key);
    if (!k) continue;
    const run = runs.get(k.id) ?? {
      id: k.id,
      host: k.host,
      kind: k.kind,
      startedAt: k.startedAt,
      startKey: undefined,
      endKey: undefined,
    };
    if (k.phase === "end") run.endKey = key;
    else run.startKey = key;
    runs.set(k.id, run);
  }
  return [...runs.values()].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/**
 * A run's record, when it is well formed and is the record its key says (the host and run id in the key): a
 * record planted under another host's key is skipped like a malformed one.
 */
export async function readRecord(
  catalog: CatalogStore,
  key: string,
  sink?: MalformedSink,
): Promise<RunRecord | undefined> {
  const text = await catalog.get(key);
  return text === undefined ? undefined : recordFromText(key, text, sink);
}

/** `readRecord` of a record already fetched. */
export function recordFromText(key: string, text: string, sink?: MalformedSink): RunRecord | undefined {
  const record = parseCatalogJson(text, key, runRecordSchema, sink);
  const k = parseRunKey(key);
  if (record && (!k || k.host !== record.host || k.id !== record.id || k.kind !== record.kind)) {
    warnMalformed(sink, key, "its host, run id or kind differs from its key");
    return undefined;
  }
  return record;
}
