/**
 * Human-readable sizes as the Python tools print and read them (cli-spec §3.12).
 * @module
 */

/** Python `%.2f` with decimal units B/kB/MB/GB, as seamless-upload prints sizes. */
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
