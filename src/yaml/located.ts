// YAML documents that remember where each value came from, so every problem can say `file:line`.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";

export type FieldPath = ReadonlyArray<string | number>;

/** One thing wrong with a file, printed as `file:line: field: message`. */
export interface Problem {
  file: string;
  line: number;
  field: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return p.field ? `${p.file}:${p.line}: ${p.field}: ${p.message}` : `${p.file}:${p.line}: ${p.message}`;
}

/** Relative to the working directory when inside it, else absolute: what a person can click or paste. */
export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

export function formatField(path: FieldPath): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

export interface LocatedDocument {
  file: string;
  value: unknown;
  /** The 1-based line of the value at `path`, or of its nearest ancestor that exists. */
  lineOf(path: FieldPath): number;
  problem(path: FieldPath, message: string): Problem;
}

export type LoadResult = { ok: true; doc: LocatedDocument } | { ok: false; problems: Problem[] };

/** The largest YAML file Lifeboat reads (policies, runbooks, lifeboat.yaml): checked before it is read. */
export const MAX_YAML_BYTES = 1024 * 1024;
/** Aliases a document may expand (an alias bomb expands a few lines into gigabytes). */
const MAX_ALIASES = 100;

export async function loadYamlFile(file: string, displayName = file): Promise<LoadResult> {
  let text: string;
  try {
    const size = (await stat(file)).size;
    if (size > MAX_YAML_BYTES)
      return {
        ok: false,
        problems: [
          {
            file: displayName,
            line: 1,
            field: "",
            message: `is ${(size / 1024 / 1024).toFixed(1)} MiB; a Lifeboat YAML file may be at most ${MAX_YAML_BYTES / 1024 / 1024} MiB`,
          },
        ],
      };
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(err);
    return { ok: false, problems: [{ file: displayName, line: 1, field: "", message: reason }] };
  }
  return parseYaml(text, displayName);
}

export function parseYaml(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  const lineAt = (offset: number | undefined): number =>
    offset === undefined ? 1 : lineCounter.linePos(offset).line;
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((e) => ({
        file,
        line: lineAt(e.pos[0]),
        field: "",
        message: `YAML syntax: ${e.message.split("\n")[0]}`,
      })),
    };
  }

  const lineOf = (path: FieldPath): number => {
    let node: unknown = document.contents;
    let line = lineAt((node as Node | null)?.range?.[0]);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) break;
        line = lineAt((pair.key as Node | null)?.range?.[0]);
        node = pair.value;
        // A scalar is pointed at where it stands; a nested block (or an empty value) at its key.
        if (isScalar(node) && node.range) line = lineAt(node.range[0]);
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (item === undefined) break;
        node = item;
        line = lineAt((item as Node).range?.[0]);
      } else {
        break;
      }
    }
    return line;
  };

  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    // The yaml library's own guard (an alias bomb), or a structure too deep to build: a problem, not a crash.
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    return {
      ok: false,
      problems: [
        {
          file,
          line: 1,
          field: "",
          message: `YAML cannot be expanded: ${message} (at most ${MAX_ALIASES} aliases)`,
        },
      ],
    };
  }
  const doc: LocatedDocument = {
    file,
    value,
    lineOf,
    problem: (path, message) => ({ file, line: lineOf(path), field: formatField(path), message }),
  };
  return { ok: true, doc };
}
