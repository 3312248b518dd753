// Shared by the benchmarks: the data set and the statistic.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

/** `files` files of `fileKib` KiB of random bytes in 100 directories under `data`; kept between runs. */
export function writeBenchData(data: string, files: number, fileKib: number): void {
  const marker = path.join(path.dirname(data), `.ready-${files}x${fileKib}k`);
  if (existsSync(marker)) return;
  rmSync(path.dirname(data), { recursive: true, force: true });
  process.stderr.write(`writing ${files} files of ${fileKib} KiB into ${data} ...\n`);
  for (let i = 0; i < files; i++) {
    const sub = path.join(data, String(i % 100).padStart(2, "0"));
    if (i < 100) mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `${i}.bin`), randomBytes(fileKib * 1024));
  }
  writeFileSync(marker, "");
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}
