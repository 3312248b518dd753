// Which password last opened a host's repository, so that a run can know its key works before it touches the live
// data (the sentinels) without paying restic's key derivation (~0.7 s) on every snapshot. Kept as a salted digest
// in $LIFEBOAT_HOME (0600), never the password; a mismatch or no record means restic proves it again.
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { z } from "zod";

const derive = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  length: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

// A password a person chose (from the environment) gets scrypt, 32 MiB and ~0.13 s: an offline guess costs a sixth
// of one against restic's own key in the bucket (p = 6). A key file's password needs no slow hash: whoever can
// read this digest can read the key file beside it.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
export type ProofHash = "sha256" | "scrypt";

async function digestOf(hash: ProofHash, password: string, salt: Buffer): Promise<Buffer> {
  if (hash === "scrypt") return derive(password, salt, 32, SCRYPT);
  return createHash("sha256").update(salt).update(password, "utf8").digest();
}

const proofSchema = z.object({
  location: z.string(),
  hash: z.enum(["sha256", "scrypt"]),
  salt: z.string(),
  digest: z.string(),
  /** The restic key this password opened: passed as restic's key hint, so it tries that key first. */
  keyId: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

/** What a valid proof says beyond "this password opened it". */
export interface Proven {
  keyId: string | undefined;
}

const fileOf = (key: ProofKey): string =>
  path.join(
    key.stateDir,
    "proven",
    encodeURIComponent(key.target),
    `${encodeURIComponent(key.host)}${key.subject === "host" ? ".host-key" : ""}.json`,
  );

export interface ProofKey {
  stateDir: string;
  target: string;
  host: string;
  /** The repository's location: a proof for another repository under the same names does not count. */
  location: string;
  hash: ProofHash;
  /** Whose password: the target's (default) or the host's own key to its repository. */
  subject?: "target" | "host";
}

async function readProof(key: ProofKey): Promise<z.infer<typeof proofSchema> | undefined> {
  try {
    const parsed = proofSchema.safeParse(JSON.parse(await readFile(fileOf(key), "utf8")));
    return parsed.success && parsed.data.location === key.location ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `password` is the one that last opened this repository: what the proof says then, else undefined. */
export async function provenBy(key: ProofKey, password: string): Promise<Proven | undefined> {
  const proof = await readProof(key);
  if (!proof || proof.hash !== key.hash) return undefined;
  const expected = Buffer.from(proof.digest, "base64");
  const actual = await digestOf(proof.hash, password, Buffer.from(proof.salt, "base64"));
  const same = expected.length === actual.length && timingSafeEqual(expected, actual);
  return same ? { keyId: proof.keyId } : undefined;
}

export async function isProven(key: ProofKey, password: string): Promise<boolean> {
  return (await provenBy(key, password)) !== undefined;
}

/** The key id last proven for this repository, whatever the password now: only ever a hint to restic. */
export async function keyHint(key: ProofKey): Promise<string | undefined> {
  return (await readProof(key))?.keyId;
}

/** Records that `password` opened this repository just now (with restic key `keyId`, when known). */
export async function markProven(key: ProofKey, password: string, keyId?: string): Promise<void> {
  const file = fileOf(key);
  const salt = randomBytes(16);
  const digest = await digestOf(key.hash, password, salt);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(
    tmp,
    JSON.stringify({
      location: key.location,
      hash: key.hash,
      salt: salt.toString("base64"),
      digest: digest.toString("base64"),
      keyId,
    }),
    { mode: 0o600 },
  );
  await rename(tmp, file);
}
