import { expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/util/duration.js";

it.each([
  ["90s", 90],
  ["30m", 1800],
  ["24h", 86_400],
  ["7d", 604_800],
  ["2w", 1_209_600],
  ["1h30m", 5400],
  ["24", undefined],
  ["1 day", undefined],
  ["", undefined],
  ["-1h", undefined],
])("parseDuration(%j) = %j", (text, seconds) => expect(parseDuration(text)).toBe(seconds));

it.each([
  [12, "12s"],
  [102, "1m42s"],
  [3600 * 7, "7h"],
  [86_400 + 4 * 3600 + 59, "1d4h"],
])("formatDuration(%j) = %j", (seconds, text) => expect(formatDuration(seconds)).toBe(text));
