// Finds restic and refuses versions older than 0.17 (exit codes 10/11/12, restore --json, --stdin-from-command).
import { execa } from "execa";
import { LifeboatError } from "../errors.js";
import { onlyEnv } from "../util/child-env.js";

export const MIN_RESTIC = [0, 17, 0] as const;

export const INSTALL_HINT =
  "Install restic 0.17 or newer: on Debian 12 run scripts/setup.sh (it adds Debian trixie's restic 0.18, pinned), " +
  "or put a restic binary on PATH, or set LIFEBOAT_RESTIC=/path/to/restic.";

export interface ResticBinary {
  path: string;
  version: string;
}

export function parseResticVersion(text: string): [number, number, number] | undefined {
  const m = /restic (\d+)\.(\d+)\.(\d+)/.exec(text) ?? /"version":"(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isSupported(v: readonly [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    const a = v[i] ?? 0;
    const b = MIN_RESTIC[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

const cache = new Map<string, Promise<ResticBinary>>();

/** The restic to run: $LIFEBOAT_RESTIC, else `restic` on PATH; checked once per process. */
export function findRestic(env: NodeJS.ProcessEnv = process.env): Promise<ResticBinary> {
  const path = env.LIFEBOAT_RESTIC || "restic";
  let found = cache.get(path);
  if (!found) {
    found = probe(path, env);
    cache.set(path, found);
    found.catch(() => cache.delete(path));
  }
  return found;
}

async function probe(path: string, env: NodeJS.ProcessEnv): Promise<ResticBinary> {
  let stdout: string;
  try {
    ({ stdout } = await execa(path, ["version"], {
      ...onlyEnv({}, { from: env }),
      stdin: "ignore",
      timeout: 30_000,
    }));
  } catch (err) {
    const missing = (err as { code?: string }).code === "ENOENT";
    throw new LifeboatError(
      "RESTIC_MISSING",
      missing ? `restic was not found (looked for "${path}")` : `could not run "${path} version"`,
      {
        hint: INSTALL_HINT,
        cause: err,
      },
    );
  }
  const v = parseResticVersion(stdout);
  if (!v)
    throw new LifeboatError(
      "RESTIC_MISSING",
      `"${path} version" printed no version: ${stdout.slice(0, 200)}`,
      { hint: INSTALL_HINT },
    );
  const version = v.join(".");
  if (!isSupported(v)) {
    throw new LifeboatError(
      "RESTIC_TOO_OLD",
      `restic ${version} is too old; Lifeboat needs ${MIN_RESTIC.join(".")} or newer`,
      {
        hint: INSTALL_HINT,
        details: { version, path },
      },
    );
  }
  return { path, version };
}
