// A host's history read through the index (keys.ts): the newest runs of a kind, and the host's last run,
// each from a short listing and a read or two, however many records the host has. A catalog written before the
// index is indexed once, the first time a question reaches the end of what the index holds.
import pLimit from "p-limit";
import {
  ENTRY_BODY,
  INDEXED_BODY,
  type IndexEntry,
  indexedMarker,
  indexKeys,
  kindPrefix,
  ownPrefix,
  parseIndexKey,
  succeededPrefix,
} from "./keys.js";
import { type MalformedSink, warnMalformed } from "./read.js";
import { listRuns, type RunKind, type RunRecord, readRecord, recordFromText, runKey } from "./records.js";
import type { CatalogStore, KeyPage } from "./types.js";

/** Reads while indexing an old catalog, and while fetching the records a digest shows. */
export const READ_CONCURRENCY = 8;

// Per store and host, so the daemon and a status of many hosts ask (and index) once per process.
const indexing = new WeakMap<CatalogStore, Map<string, Promise<boolean>>>();

export interface EndsOptions {
  /** Only runs that succeeded (their own index: no failed run is listed on the way). */
  succeeded?: boolean;
  /** Decided from the key, before the record is read: e.g. not skipped. */
  outcome?: (outcome: string) => boolean;
  /** How many keys the first listing asks for: the caller's guess at how many it will look at. */
  firstPage?: number;
}

export interface LastRun {
  /** The end record, or undefined for a run that started and never ended (it died, or it is still going). */
  record: RunRecord | undefined;
  entry: IndexEntry;
}

export class HostHistory {
  private readonly records = new Map<string, Promise<{ found: boolean; record: RunRecord | undefined }>>();
  // Questions asked side by side often begin with the same page (status: newest good snapshot, the guard).
  private readonly pages = new Map<string, Promise<KeyPage>>();

  constructor(
    readonly catalog: CatalogStore,
    readonly host: string,
    private readonly sink?: MalformedSink,
  ) {}

  /** A run's end record (read once per history), when it is well formed and is the record its key says. */
  async endRecord(entry: Pick<IndexEntry, "startedAt" | "id" | "kind">): Promise<RunRecord | undefined> {
    return (await this.end(entry)).record;
  }

  /** Whether the run has an end record at all, and the record when it can be read. */
  private end(
    entry: Pick<IndexEntry, "startedAt" | "id" | "kind">,
  ): Promise<{ found: boolean; record: RunRecord | undefined }> {
    const key = runKey({ ...entry, host: this.host, phase: "end" });
    let end = this.records.get(key);
    if (!end) {
      end = this.catalog.get(key).then((text) => ({
        found: text !== undefined,
        record: text === undefined ? undefined : recordFromText(key, text, this.sink),
      }));
      this.records.set(key, end);
    }
    return end;
  }

  /** The index entries of `kind`'s ended runs, newest first: keys only, nothing is read. */
  index(
    kind: RunKind,
    options: Pick<EndsOptions, "succeeded" | "firstPage"> = {},
  ): AsyncGenerator<IndexEntry> {
    const prefix = options.succeeded ? succeededPrefix(this.host, kind) : kindPrefix(this.host, kind);
    return this.entries(prefix, kind, options.firstPage);
  }

  /** End records of `kind`, newest first; index entries whose record is missing or malformed are passed over. */
  async *ends(kind: RunKind, options: EndsOptions = {}): AsyncGenerator<RunRecord> {
    for await (const entry of this.index(kind, options)) {
      if (entry.outcome && options.outcome && !options.outcome(entry.outcome)) continue;
      const record = await this.endRecord(entry);
      if (!record) continue;
      if (options.succeeded && record.outcome !== "succeeded") continue;
      if (options.outcome && !options.outcome(record.outcome)) continue;
      yield record;
    }
  }

  /** The newest end record of `kind` that `where` accepts. */
  async newest(
    kind: RunKind,
    options: EndsOptions & { where?: (r: RunRecord) => boolean } = {},
  ): Promise<RunRecord | undefined> {
    for await (const record of this.ends(kind, { firstPage: 2, ...options }))
      if (!options.where || options.where(record)) return record;
    return undefined;
  }

  /** The newest `n` end records of `kind` that `where` accepts, read `READ_CONCURRENCY` at a time. */
  async newestN(
    kind: RunKind,
    n: number,
    options: EndsOptions & { where?: (r: RunRecord) => boolean } = {},
  ): Promise<RunRecord[]> {
    const found: RunRecord[] = [];
    const limit = pLimit(READ_CONCURRENCY);
    let batch: IndexEntry[] = [];
    const take = async (): Promise<void> => {
      const records = await Promise.all(batch.map((e) => limit(() => this.endRecord(e))));
      batch = [];
      for (const r of records) {
        if (!r || found.length >= n) continue;
        if (options.succeeded && r.outcome !== "succeeded") continue;
        if (options.outcome && !options.outcome(r.outcome)) continue;
        if (!options.where || options.where(r)) found.push(r);
      }
    };
    for await (const entry of this.index(kind, { ...options, firstPage: n })) {
      if (entry.outcome && options.outcome && !options.outcome(entry.outcome)) continue;
      batch.push(entry);
      if (batch.length >= n - found.length) await take();
      if (found.length >= n) break;
    }
    if (batch.length) await take();
    return found;
  }

  /**
   * The host's newest own run (not a stage, not a skipped run) whose end record can be read, or the newest
   * run when it never ended.
   */
  async lastRun(): Promise<LastRun | undefined> {
    const ended = new Set<string>();
    for await (const entry of this.entries(ownPrefix(this.host), undefined, 2)) {
      // An end sorts before its own start: a start seen first has no end entry (or its entry was never written).
      if (entry.phase === "start" && ended.has(entry.id)) continue;
      ended.add(entry.id);
      const { found, record } = await this.end(entry);
      if (!found) {
        if (entry.phase === "start") return { record: undefined, entry };
        continue;
      }
      // A record that cannot be read says nothing (it was warned about), and neither does a skipped run.
      if (!record || record.outcome === "skipped") continue;
      return { record, entry };
    }
    return undefined;
  }

  /**
   * The newest key among the host's own runs (starts and ends): any run started or ended later sorts before it,
   * so an unchanged key means nothing was written since (one listing of one key).
   */
  async newestKey(): Promise<string | undefined> {
    return (await this.catalog.listPage(ownPrefix(this.host), { limit: 1 })).keys[0];
  }

  /** Index entries under `prefix`, newest first, in pages that grow; the old records are indexed at the end. */
  private async *entries(
    prefix: string,
    kind: string | undefined,
    firstPage = 2,
  ): AsyncGenerator<IndexEntry> {
    const seen = new Set<string>();
    for (let pass = 0; pass < 2; pass++) {
      let after: string | undefined;
      let limit = Math.max(1, firstPage);
      for (;;) {
        const page = await this.page(prefix, limit, after);
        for (const key of page.keys) {
          if (seen.has(key)) continue;
          seen.add(key);
          const entry = parseIndexKey(prefix, key, kind);
          if (entry) yield entry;
          else warnMalformed(this.sink, key, "not an index entry");
        }
        after = page.keys.at(-1);
        if (!page.more || after === undefined) break;
        limit = Math.min(1000, limit * 4);
      }
      // The end of the index: the end of the history too, once the records from before the index are in it.
      if (!(await this.indexOldRecords())) return;
      this.pages.clear();
    }
  }

  /** One listing, asked once per history (a failed one is asked again). */
  private page(prefix: string, limit: number, after: string | undefined): Promise<KeyPage> {
    const key = `${prefix}\n${limit}\n${after ?? ""}`;
    let page = this.pages.get(key);
    if (!page) {
      page = this.catalog.listPage(prefix, { limit, after });
      this.pages.set(key, page);
      page.catch(() => this.pages.delete(key));
    }
    return page;
  }

  /** Indexes the host's records from before the index, once; true when this call added them. */
  private indexOldRecords(): Promise<boolean> {
    let hosts = indexing.get(this.catalog);
    if (!hosts) {
      hosts = new Map();
      indexing.set(this.catalog, hosts);
    }
    let done = hosts.get(this.host);
    if (!done) {
      done = indexHost(this.catalog, this.host, this.sink);
      hosts.set(this.host, done);
      // A failure (the storage went away) is not remembered: the next question tries again.
      done.catch(() => hosts.delete(this.host));
    }
    return done;
  }
}

/** Indexes every record of `host` that the index lacks; false when the marker says that was done. */
export async function indexHost(catalog: CatalogStore, host: string, sink?: MalformedSink): Promise<boolean> {
  if ((await catalog.get(indexedMarker(host))) !== undefined) return false;
  const runs = await listRuns(catalog, host);
  const limit = pLimit(READ_CONCURRENCY);
  await Promise.all(
    runs.map((run) =>
      limit(async () => {
        const start = { host, startedAt: run.startedAt, id: run.id, kind: run.kind };
        const keys = run.startKey ? indexKeys({ ...start, phase: "start", outcome: "running" }) : [];
        const end = run.endKey ? await readRecord(catalog, run.endKey, sink) : undefined;
        if (end) keys.push(...indexKeys({ ...start, phase: "end", outcome: end.outcome }));
        for (const key of keys) await catalog.put(key, ENTRY_BODY);
      }),
    ),
  );
  await catalog.put(indexedMarker(host), INDEXED_BODY);
  return true;
}
