// The vault: restic's REST server (`restic-rest-server`, Debian's name; `rest-server` upstream) with
// --append-only --private-repos over the vault's directory. Each host gets a login of its own that Lifeboat
// makes and keeps on the controller; with it the host can add snapshots to /<host>/ and do nothing else: it
// cannot read another host's repository, and cannot forget, prune or delete. The controller needs no login: it
// reads, prunes and checks the same directory directly (the REST server keeps restic's own layout).
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import path from "node:path";
import bcrypt from "bcryptjs";
import { execa } from "execa";
import type { Logger } from "pino";
import { type RestTargetConfig, vaultStateDir } from "../config/load.js";
import { asLifeboatError, LifeboatError } from "../errors.js";
import { childEnv } from "../util/child-env.js";
import { withHostLock } from "../util/host-lock.js";

/** The REST server checks its .htpasswd for changes about every 30 s: how long a new login may take to work. */
const LOGIN_WAIT_MS = 45_000;

export const htpasswdFile = (t: RestTargetConfig): string => path.join(t.path, ".htpasswd");

export function vaultLoginFile(stateDir: string, target: string, host: string): string {
  return path.join(stateDir, "keys", "vault", target, `${host}.login`);
}

/** A host's repository as the REST server serves it (private repositories live under the login's name). */
export const vaultRepositoryUrl = (t: RestTargetConfig, host: string): string => `rest:${t.url}/${host}/`;

/** Retries the vault's lock: two hosts' logins made at once must not lose one another's line. */
async function withVaultLock<T>(stateDir: string, t: RestTargetConfig, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withHostLock(stateDir, `_vault-${t.name}`, "vault login", fn);
    } catch (err) {
      if (!(err instanceof LifeboatError && err.code === "HOST_BUSY") || attempt >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface VaultLogin {
  user: string;
  password: string;
  /** Made by this call: the server may take up to half a minute to accept it. */
  added: boolean;
}

/**
 * The host's login to the vault: made on first use (0600 under $LIFEBOAT_HOME/keys/vault), and its bcrypt line
 * in the vault's .htpasswd written (again, if it is missing or differs).
 */
export async function ensureVaultLogin(
  stateDir: string,
  t: RestTargetConfig,
  host: string,
  logger?: Logger,
): Promise<VaultLogin> {
  const file = vaultLoginFile(stateDir, t.name, host);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, `${randomBytes(24).toString("base64url")}\n`, { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw asLifeboatError(err);
  }
  const password = (await readFile(file, "utf8")).trim();
  const added = await withVaultLock(stateDir, t, async () => {
    const lines = existsSync(htpasswdFile(t)) ? (await readFile(htpasswdFile(t), "utf8")).split("\n") : [];
    const mine = lines.find((l) => l.startsWith(`${host}:`));
    if (mine && (await bcrypt.compare(password, mine.slice(host.length + 1)))) return false;
    const others = lines.filter((l) => l.trim() && !l.startsWith(`${host}:`));
    const line = `${host}:${await bcrypt.hash(password, 10)}`;
    await mkdir(t.path, { recursive: true, mode: 0o700 });
    const tmp = `${htpasswdFile(t)}.${randomBytes(6).toString("hex")}.tmp`;
    await writeFile(tmp, `${[...others, line].join("\n")}\n`, { mode: 0o600 });
    await rename(tmp, htpasswdFile(t));
    return true;
  });
  if (added) logger?.info({ host, vault: t.url }, "made the host's vault login");
  return { user: host, password, added };
}

/** Status of an authenticated GET of the host's repository config: 401 while the login is not known yet. */
async function probeStatus(t: RestTargetConfig, login?: { user: string; password: string }): Promise<number> {
  const url = new URL(`${t.url}/${login?.user ?? ""}${login ? "/config" : ""}`);
  const ca = t.caFile && existsSync(t.caFile) ? await readFile(t.caFile) : undefined;
  return new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? request : httpRequest;
    const req = send(
      url,
      {
        method: "HEAD",
        timeout: 10_000,
        ...(ca ? { ca } : {}),
        headers: login
          ? { authorization: `Basic ${Buffer.from(`${login.user}:${login.password}`).toString("base64")}` }
          : {},
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
    req.end();
  });
}

function unreachable(t: RestTargetConfig, err: unknown): LifeboatError {
  return new LifeboatError(
    "STORAGE_UNREACHABLE",
    `the vault ${t.url} does not answer: ${(err as Error).message}`,
    {
      hint: `Start it (\`lifeboat vault serve --target ${t.name}\`, or its service), and check that this machine reaches it.`,
    },
  );
}

/** Resolves when the vault answers at all (any HTTP status is an answer). */
export async function probeVault(t: RestTargetConfig): Promise<void> {
  try {
    await probeStatus(t);
  } catch (err) {
    throw unreachable(t, err);
  }
}

/** Waits until the vault accepts a login just made (it re-reads .htpasswd on its own, every half minute). */
export async function awaitVaultLogin(t: RestTargetConfig, login: VaultLogin): Promise<void> {
  const deadline = Date.now() + LOGIN_WAIT_MS;
  for (;;) {
    let status: number;
    try {
      status = await probeStatus(t, login);
    } catch (err) {
      throw unreachable(t, err);
    }
    if (status !== 401) return;
    if (Date.now() > deadline)
      throw new LifeboatError(
        "STORAGE_ACCESS_DENIED",
        `the vault ${t.url} still refuses ${login.user}'s login ${LOGIN_WAIT_MS / 1000}s after it was made`,
        {
          hint: `Check that the vault serves ${t.path} with the .htpasswd there (\`lifeboat vault serve --target ${t.name}\`).`,
        },
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The REST server's program: Debian's package name, or upstream's. */
async function serverBinary(): Promise<string> {
  for (const name of ["restic-rest-server", "rest-server"]) {
    const r = await execa(name, ["--version"], { reject: false, env: childEnv(), extendEnv: false });
    if (r.exitCode === 0) return name;
  }
  throw new LifeboatError("RESTIC_MISSING", "restic's REST server is not installed", {
    hint: "Install it: `apt-get install -t trixie restic-rest-server` (scripts/setup.sh does), or put rest-server on PATH.",
  });
}

/** The certificate and key the vault presents: the target's, or a pair made once for its URL's host name. */
export async function vaultTls(
  stateDir: string,
  t: RestTargetConfig,
): Promise<{ cert: string; key: string } | undefined> {
  if (!t.url.startsWith("https://")) return undefined;
  if (t.tls) return t.tls;
  const dir = vaultStateDir(stateDir, t.name);
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const host = new URL(t.url).hostname.replace(/^\[|\]$/g, "");
  const san = /^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`;
  const r = await execa(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "3650",
      "-subj",
      `/CN=${host}`,
      "-addext",
      `subjectAltName=${san}`,
      "-keyout",
      key,
      "-out",
      cert,
    ],
    { reject: false, env: childEnv(), extendEnv: false },
  );
  if (r.exitCode !== 0)
    throw new LifeboatError(
      "HOST_SETUP_FAILED",
      `could not make the vault's certificate: ${r.stderr.trim()}`,
      {
        hint: "Install openssl, or set tlsCert and tlsKey on the target.",
      },
    );
  return { cert, key };
}

/** The REST server's command line for this vault: append-only, private repositories, TLS. */
export async function vaultServerCommand(
  stateDir: string,
  t: RestTargetConfig,
  listen: string | undefined,
): Promise<{ file: string; args: string[] }> {
  const url = new URL(t.url);
  const tls = await vaultTls(stateDir, t);
  await mkdir(t.path, { recursive: true, mode: 0o700 });
  // It refuses to start without one; a vault with no hosts yet has an empty one.
  if (!existsSync(htpasswdFile(t)))
    await writeFile(htpasswdFile(t), "", { mode: 0o600, flag: "wx" }).catch(() => {});
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return {
    file: await serverBinary(),
    args: [
      "--path",
      t.path,
      "--listen",
      listen ?? `:${port}`,
      "--append-only",
      "--private-repos",
      "--htpasswd-file",
      htpasswdFile(t),
      ...(tls ? ["--tls", "--tls-cert", tls.cert, "--tls-key", tls.key] : []),
    ],
  };
}
