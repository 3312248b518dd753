// restic's words for a damaged repository, as restic 0.18 prints them (captured from real runs against damaged
// local and S3 repositories), told apart from failures that are not damage.
import { expect, test } from "vitest";
import { isRepositoryDamage, resticError } from "../../src/restic/errors.js";

test("unreadable or missing repository data is damage; a target or network problem is not", () => {
  for (const message of [
    "decrypting blob <data/4546c3a1> from 74a53437 failed: ciphertext verification failed",
    "ReadFull(<data/84be746cc9>): open /srv/repo/data/84/84be746c: no such file or directory",
    "Load(<data/84be746cc9>, 3000156, 0) failed: The specified key does not exist.",
  ])
    expect(isRepositoryDamage(message), message).toBe(true);
  for (const message of [
    "lchown /tmp/out/srv/app/f1: no such file or directory",
    "Fatal: unable to open config file: Stat: dial tcp 10.0.0.5:9000: connect: connection refused",
    "write /target/big.bin: no space left on device",
  ])
    expect(isRepositoryDamage(message), message).toBe(false);
});

test("a restic failure in damage's words is REPOSITORY_DAMAGED with what to do", () => {
  const err = resticError(
    {
      command: "restore",
      exitCode: 1,
      message: "Fatal: load index 1c2d3e4f: ciphertext verification failed",
      repository: "s3:https://s3.example.org/b/web1",
    },
    (t) => t,
  );
  expect(err).toMatchObject({ code: "REPOSITORY_DAMAGED", exitCode: 1 });
  expect(err.hint).toContain("lifeboat check");
});
