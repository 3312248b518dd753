// Durations as people write them in policies: 90s, 30m, 24h, 7d, 2w, 1h30m.
const unitSeconds = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;
const durationPattern = /^(?:\d+[smhdw])+$/;

/** Seconds in `text`, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!durationPattern.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([smhdw])/g)) {
    total += Number(n) * unitSeconds[unit as keyof typeof unitSeconds];
  }
  return total;
}

/** A compact human form: 1h42m, 7h, 3d4h, 12s. */
export function formatDuration(totalSeconds: number): string {
  let s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  if (parts.length < 2 && s > 0 && parts.length > 0 && !parts[0]?.endsWith("d")) parts.push(`${s}s`);
  return parts.join("");
}
