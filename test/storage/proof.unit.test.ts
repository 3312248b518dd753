// The proof that a password opened a repository: only that password, for that repository, counts; the file holds
// a digest, never the password.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { isProven, markProven, type ProofHash, type ProofKey } from "../../src/storage/proof.js";

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), "proof-"));
});
afterEach(() => rm(stateDir, { recursive: true, force: true }));

const key = (hash: ProofHash, location = "/srv/repos/web1"): ProofKey => ({
  stateDir,
  target: "primary",
  host: "web1",
  location,
  hash,
});

for (const hash of ["sha256", "scrypt"] as const) {
  test(`${hash}: the proven password counts, another one or another repository does not`, async () => {
    expect(await isProven(key(hash), "s3cret-password")).toBe(false);
    await markProven(key(hash), "s3cret-password");
    expect(await isProven(key(hash), "s3cret-password")).toBe(true);
    expect(await isProven(key(hash), "another-password")).toBe(false);
    expect(await isProven(key(hash, "/srv/repos/other"), "s3cret-password")).toBe(false);
    const other: ProofHash = hash === "sha256" ? "scrypt" : "sha256";
    expect(await isProven(key(other), "s3cret-password")).toBe(false);
    const dir = path.join(stateDir, "proven", "primary");
    const [file] = await readdir(dir);
    expect(await readFile(path.join(dir, file ?? ""), "utf8")).not.toContain("s3cret");
  });
}
