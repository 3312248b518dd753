// A host's own restic key to its own repository: what a restic on the host gets instead of the target's key,
// which opens every host's repository and never leaves the controller. A compromised web1 then holds a key that
// opens web1's repository and nothing else (each repository has its own master key inside restic).
import path from "node:path";
import type { Logger } from "pino";
import { isLifeboatError } from "../errors.js";
import { ResticRepository } from "../restic/engine.js";
import { generateKeyFile, resolvePassword } from "./password.js";
import { markProven, type ProofKey, provenBy } from "./proof.js";

export interface HostKey {
  /** Where it is kept on the controller (0600). */
  file: string;
  secret: string;
  /** Its id in the repository: restic's key hint, so that a run tries it first (each key tried costs ~0.7 s). */
  keyId: string;
}

export function hostKeyFile(stateDir: string, host: string): string {
  return path.join(stateDir, "keys", "hosts", `${host}.key`);
}

/**
 * The host's key to the repository `admin` opens with the target's key: made on first use, added to the
 * repository when it does not open it yet (a repository from before host keys, a controller rebuilt from its
 * kit), and proven once; later runs find the proof and make no restic call.
 */
export async function ensureHostKey(options: {
  admin: ResticRepository;
  /** The target key's proof: the host key's is kept beside it. */
  proof: ProofKey;
  logger?: Logger | undefined;
}): Promise<HostKey> {
  const { admin } = options;
  const host = options.proof.host;
  const file = hostKeyFile(options.proof.stateDir, host);
  await generateKeyFile(file); // keeps a key that is already there
  const secret = (await resolvePassword({ kind: "file", path: file })).secret;
  const proof: ProofKey = { ...options.proof, hash: "sha256", subject: "host" };
  const proven = await provenBy(proof, secret);
  if (proven?.keyId) return { file, secret, keyId: proven.keyId };

  const asHost = new ResticRepository({
    ...admin.ctx,
    secretEnv: withoutPassword(admin.ctx.secretEnv, { RESTIC_PASSWORD_FILE: file }),
    secrets: [...admin.ctx.secrets, secret],
    passwordFrom: `host key file ${file}`,
  });
  let keyId: string | undefined;
  try {
    keyId = (await asHost.keys()).find((k) => k.current)?.id;
  } catch (err) {
    if (!(isLifeboatError(err) && err.code === "WRONG_PASSWORD")) throw err;
  }
  if (!keyId) {
    keyId = await admin.addKey(file, { host, user: "lifeboat" });
    options.logger?.info({ host, key: keyId.slice(0, 8) }, "added the host's own key to its repository");
  }
  await markProven(proof, secret, keyId).catch(() => {});
  return { file, secret, keyId };
}

/** The credentials of `env` with the password replaced by `password`. */
function withoutPassword(
  env: Record<string, string>,
  password: Record<string, string>,
): Record<string, string> {
  const { RESTIC_PASSWORD: _p, RESTIC_PASSWORD_FILE: _f, RESTIC_KEY_HINT: _h, ...credentials } = env;
  return { ...credentials, ...password };
}
