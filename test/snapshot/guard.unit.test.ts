// The guard's arithmetic: what counts as deleted or encrypted data, and what does not.
import { expect, test } from "vitest";
import type { RunRecord } from "../../src/catalog/records.js";
import { judge } from "../../src/snapshot/guard.js";

const guard = { shrink: 0.5, changed: 0.6, minFiles: 20 };
const before = {
  totalFiles: 1000,
  totalBytes: 100 * 1024 * 1024,
  details: { dumps: [{ engine: "postgres", database: "shop", bytes: 10 * 1024 * 1024 }] },
} as unknown as RunRecord;
const same = { files: 1000, bytes: 100 * 1024 * 1024, changed: 10, unmodified: 990, dumps: [] };

test("a normal night is not suspicious, nor a loss just under the threshold", () => {
  expect(judge(guard, before, same)).toEqual([]);
  expect(judge(guard, before, { ...same, files: 501, bytes: 51 * 1024 * 1024 })).toEqual([]);
  expect(judge(guard, before, { ...same, changed: 600, unmodified: 400 })).toEqual([]);
});

test("an emptied directory: files and bytes fell", () => {
  const reasons = judge(guard, before, { ...same, files: 1, bytes: 120, changed: 0, unmodified: 0 });
  expect(reasons).toEqual([
    "files fell from 1,000 to 1 (-99.9%)",
    expect.stringMatching(/^bytes fell from 100(\.0)? MiB to 120 B \(-100%\)$/),
  ]);
});

test("most files changed content: what encryption looks like; but not in a handful of files", () => {
  expect(judge(guard, before, { ...same, changed: 700, unmodified: 300 })).toEqual([
    "700 of 1,000 files changed content (70%): what encrypting them looks like",
  ]);
  // Five files left, all changed: the loss is the news; too few files to judge their content.
  expect(judge(guard, before, { ...same, files: 5, changed: 5, unmodified: 0 })).toEqual([
    "files fell from 1,000 to 5 (-99.5%)",
  ]);
  const small = { totalFiles: 5, totalBytes: 5000 } as unknown as RunRecord;
  expect(judge(guard, small, { files: 5, bytes: 5000, changed: 5, unmodified: 0, dumps: [] })).toEqual([]);
});

test("a database dump that lost most of its size", () => {
  expect(
    judge(guard, before, { ...same, dumps: [{ engine: "postgres", database: "shop", bytes: 1024 }] }),
  ).toEqual([expect.stringMatching(/^the postgres dump of shop fell from 10(\.0)? MiB to 1(\.0)? KiB$/)]);
});
