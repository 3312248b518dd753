// The catalog's keys. Run records: `runs/<host>/<start>_<id>_<kind>.<phase>.json`. The index of runs: empty
// objects whose keys alone say a run's start (inverted, so that a listing returns the newest first), id, kind
// and outcome. "The newest X of a host" is then one short listing and one read, however long its history; the
// run records stay the one source of truth. No imports: the benchmarks write catalogs with these too.

/** Everything the index holds lives under this prefix. */
export const INDEX = "newest";

// Start times in ms since 1970 run to 13 digits until the year 2286.
const MAX_MS = 9_999_999_999_999;

/** A start time as 13 digits that sort newest first. */
export function invertedStamp(startedAt: string): string {
  return String(MAX_MS - Date.parse(startedAt)).padStart(13, "0");
}

/** The start time an inverted stamp was made from (run records keep it to the millisecond). */
export function stampTime(inverted: string): string {
  return new Date(MAX_MS - Number(inverted)).toISOString();
}

/** A host's ended runs of one kind, any outcome: `<stamp>_<id>_<outcome>`. */
export const kindPrefix = (host: string, kind: string): string => `${INDEX}/${host}/${kind}/`;
/** A host's runs of one kind that succeeded: `<stamp>_<id>`. */
export const succeededPrefix = (host: string, kind: string): string => `${INDEX}/${host}/succeeded/${kind}/`;
/** Every start and end of a host's own runs (not stages, not skipped runs): `<stamp>_<id>_<phase>_<kind>[_<outcome>]`. */
export const ownPrefix = (host: string): string => `${INDEX}/${host}/all/`;
/** Written once the host's records from before the index are indexed too. */
export const indexedMarker = (host: string): string => `${INDEX}/${host}/indexed.json`;
export const INDEXED_BODY = '{"version":1}';
/** An entry's key says everything; S3 clients take an empty body for a stream of unknown length. */
export const ENTRY_BODY = "{}";

export interface IndexedFacts {
  host: string;
  startedAt: string;
  id: string;
  kind: string;
  phase: "start" | "end";
  outcome: string;
}

/** The index entries of one run record. */
export function indexKeys(r: IndexedFacts): string[] {
  const stamp = invertedStamp(r.startedAt);
  const keys: string[] = [];
  if (r.phase === "end") {
    keys.push(`${kindPrefix(r.host, r.kind)}${stamp}_${r.id}_${r.outcome}`);
    if (r.outcome === "succeeded") keys.push(`${succeededPrefix(r.host, r.kind)}${stamp}_${r.id}`);
  }
  // A stage is a copy of the host trying a change, and a skipped run never ran: neither says how the host is.
  if (r.kind !== "stage" && r.outcome !== "skipped")
    keys.push(
      `${ownPrefix(r.host)}${stamp}_${r.id}_${r.phase}_${r.kind}${r.phase === "end" ? `_${r.outcome}` : ""}`,
    );
  return keys;
}

export interface IndexEntry {
  startedAt: string;
  id: string;
  kind: string;
  phase: "start" | "end";
  /** From the key: what the record says is checked when it is read. */
  outcome: string | undefined;
}

const kindEntry = /^(\d{13})_([a-z0-9]+)(?:_([a-z]+))?$/;
const ownEntry = /^(\d{13})_([a-z0-9]+)_(start|end)_([a-z]+)(?:_([a-z]+))?$/;

/** What an index key under `prefix` names, or undefined for a key that is not an index entry. */
export function parseIndexKey(prefix: string, key: string, kind?: string): IndexEntry | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const name = key.slice(prefix.length);
  if (kind !== undefined) {
    const m = kindEntry.exec(name);
    if (!m?.[1] || !m[2]) return undefined;
    return { startedAt: stampTime(m[1]), id: m[2], kind, phase: "end", outcome: m[3] ?? "succeeded" };
  }
  const m = ownEntry.exec(name);
  if (!m?.[1] || !m[2] || !m[4]) return undefined;
  return {
    startedAt: stampTime(m[1]),
    id: m[2],
    kind: m[4],
    phase: m[3] as "start" | "end",
    outcome: m[5],
  };
}

/** A run record's key. */
export function runKey(r: {
  host: string;
  startedAt: string;
  id: string;
  kind: string;
  phase: "start" | "end";
}): string {
  // Time first, so keys sort by start; the time's ':' and '.' are kept out of object names.
  const stamp = r.startedAt.replace(/:/g, "-").replace(".", "-");
  return `runs/${r.host}/${stamp}_${r.id}_${r.kind}.${r.phase}.json`;
}

const keyPattern =
  /^runs\/([^/]+)\/(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d)-(\d{3})Z_([a-z0-9]+)_([a-z]+)\.(start|end)\.json$/;

export function parseRunKey(
  key: string,
): { host: string; startedAt: string; id: string; kind: string; phase: "start" | "end" } | undefined {
  const m = keyPattern.exec(key);
  if (!m) return undefined;
  return {
    host: m[1] ?? "",
    startedAt: `${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`,
    id: m[6] ?? "",
    kind: m[7] ?? "",
    phase: m[8] as "start" | "end",
  };
}
