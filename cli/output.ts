/**
 * Messages on stderr, data on stdout (cli-spec §3.19): `seamless <command>: text`, shown when
 * the verbosity is at least the message's level; progress only on a TTY.
 * @module
 */
import { stderrIsTerminal, writeStderr } from "./stdio.ts";

/** A command's stderr voice. */
export class Reporter {
  constructor(readonly header: string, readonly verbosity: number) {}

  /** Prints at `level` (0 = default visible); boxed when verbosity ≥ level + 2, as Python does. */
  message(level: number, text: string): void {
    if (this.verbosity < level) return;
    if (this.verbosity >= level + 2) {
      const rule = "*".repeat(60);
      const body = text.split("\n").map((line) => `${this.header}: * ${line}`).join("\n");
      writeStderr(`${rule}\n${body}\n${rule}\n`);
      return;
    }
    writeStderr(`${this.header}: ${text}\n`);
  }

  /** A progress line for long transfers; silent when stderr is not a TTY or with -q. */
  progress(totalBytes: number, label: string): (bytes: number) => void {
    if (!stderrIsTerminal() || this.verbosity < 0 || totalBytes < 64 * 1024 * 1024) return () => {};
    let done = 0;
    let lastDraw = 0;
    return (bytes: number) => {
      done += bytes;
      const now = Date.now();
      if (now - lastDraw < 200 && done < totalBytes) return;
      lastDraw = now;
      const percent = Math.min(100, Math.floor((done / totalBytes) * 100));
      writeStderr(`\r${this.header}: ${label} ${formatSize(done)} / ${formatSize(totalBytes)} (${percent}%)\x1b[K`);
      if (done >= totalBytes) writeStderr("\n");
    };
  }
}

/** Python `%.2f` with decimal units B/kB/MB/GB, as seamless-upload prints sizes (cli-spec §3.12). */
export function formatSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(2)} ${units[unit]}`;
}

/** Parses `SEAMLESS_MAX_*_SIZE` values: `100 MB` = 10^8, `kB` = 1000, `K`/`KB` = 1024, `MiB` = 2^20. */
export function parseHumanSize(text: string): number {
  const match = /^\s*([0-9.]+)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!match) return Number.NaN;
  const factors: Record<string, number> = {
    "": 1, B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, K: 1024, KB: 1024, k: 1024, M: 2 ** 20, G: 2 ** 30,
    KiB: 1024, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40,
  };
  const factor = factors[match[2]!];
  return factor === undefined ? Number.NaN : Number(match[1]) * factor;
}
