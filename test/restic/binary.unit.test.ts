import { expect, it } from "vitest";
import { LifeboatError } from "../../src/errors.js";
import { findRestic, isSupported, parseResticVersion } from "../../src/restic/binary.js";
import { fakeRestic } from "../helpers/fake-restic.js";

it("parses restic's version in text and JSON form", () => {
  expect(parseResticVersion("restic 0.18.0 compiled with go1.24.4 on linux/amd64")).toEqual([0, 18, 0]);
  expect(parseResticVersion('{"message_type":"version","version":"0.17.3"}')).toEqual([0, 17, 3]);
  expect(parseResticVersion("nonsense")).toBeUndefined();
});

it("supports 0.17 and newer only", () => {
  expect(isSupported([0, 16, 9])).toBe(false);
  expect(isSupported([0, 17, 0])).toBe(true);
  expect(isSupported([1, 0, 0])).toBe(true);
});

it("refuses restic older than 0.17 with a hint that says how to install a newer one", async () => {
  const fake = await fakeRestic({ version: "0.14.0", exitCode: 1, message: "unused" });
  const err = await findRestic({ ...process.env, LIFEBOAT_RESTIC: fake.binary }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(LifeboatError);
  expect(err).toMatchObject({ code: "RESTIC_TOO_OLD", exitCode: 5 });
  expect((err as LifeboatError).message).toContain("restic 0.14.0 is too old");
  expect((err as LifeboatError).hint).toContain("scripts/setup.sh");
});

it("says restic is missing when it is not installed", async () => {
  const err = await findRestic({ ...process.env, LIFEBOAT_RESTIC: "/nonexistent/restic" }).catch(
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ code: "RESTIC_MISSING", exitCode: 5 });
});
