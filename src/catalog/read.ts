// Reading the catalog: whoever can write to the bucket can write any object, so every record is data to be
// checked, never trusted. A record that does not parse is skipped with a warning that names its key.
import type { Logger } from "pino";
import type { z } from "zod";
import type { CatalogStore } from "./types.js";

/** Where a skipped record is told about: the caller's logger, else stderr (status has no log to hide it in). */
export type MalformedSink = Pick<Logger, "warn"> | undefined;

// Once per key and process: status reads a record more than once, the daemon every round.
const warned = new Set<string>();

export function warnMalformed(sink: MalformedSink, key: string, why: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  if (sink) sink.warn({ key, why }, "skipped a malformed catalog record");
  else process.stderr.write(`warning: skipped a malformed catalog record ${key}: ${why}\n`);
}

/** The record at `key` when it parses as JSON and matches `schema`; undefined (with a warning) otherwise. */
export async function readCatalogJson<S extends z.ZodType>(
  catalog: CatalogStore,
  key: string,
  schema: S,
  sink?: MalformedSink,
): Promise<z.infer<S> | undefined> {
  const text = await catalog.get(key);
  if (text === undefined) return undefined;
  return parseCatalogJson(text, key, schema, sink);
}

export function parseCatalogJson<S extends z.ZodType>(
  text: string,
  key: string,
  schema: S,
  sink?: MalformedSink,
): z.infer<S> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    warnMalformed(sink, key, `not JSON (${(err as Error).message})`);
    return undefined;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    warnMalformed(sink, key, `${issue?.path.join(".") || "record"}: ${issue?.message ?? "invalid"}`);
    return undefined;
  }
  return parsed.data;
}
