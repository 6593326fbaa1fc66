/**
 * Durations as people write and read them: `executed in 3.1 s`, `saved 2 min 10 s`;
 * `--older-than 30d`, `--since 2h`.
 * @module
 */

/**
 * Formats seconds for one line of output: `8 ms`, `420 ms`, `3.1 s`, `2 min 10 s`, `1 h 5 min`, `2 d 3 h`.
 *
 * @param seconds a non-negative number of seconds
 * @returns the text
 * @example Formatting
 * ```ts
 * formatDuration(130); // "2 min 10 s"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 1) return `${Math.min(999, Math.round(seconds * 1000))} ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min${whole % 60 ? ` ${whole % 60} s` : ""}`;
  if (whole < 86400) {
    const minutes = Math.floor((whole % 3600) / 60);
    return `${Math.floor(whole / 3600)} h${minutes ? ` ${minutes} min` : ""}`;
  }
  const hours = Math.floor((whole % 86400) / 3600);
  return `${Math.floor(whole / 86400)} d${hours ? ` ${hours} h` : ""}`;
}

const UNIT_SECONDS: Record<string, number> = {
  s: 1, sec: 1, second: 1, seconds: 1,
  m: 60, min: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800,
};

/**
 * Parses a duration such as `90s`, `15m`, `2h`, `7d`, `1w` or `1h30m`; a bare number is seconds.
 *
 * @param text the duration
 * @returns seconds, or NaN when the text is not a duration
 * @example Parsing
 * ```ts
 * parseDuration("1h30m"); // 5400
 * ```
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^[0-9]+(\.[0-9]+)?$/.test(trimmed)) return Number(trimmed);
  const parts = trimmed.match(/[0-9]+(?:\.[0-9]+)?\s*[a-z]+/gi);
  if (!parts || parts.join("").replace(/\s/g, "") !== trimmed.replace(/\s/g, "")) return Number.NaN;
  let total = 0;
  for (const part of parts) {
    const [, number, unit] = /^([0-9.]+)\s*([a-z]+)$/i.exec(part)!;
    const factor = UNIT_SECONDS[unit!.toLowerCase()];
    if (factor === undefined) return Number.NaN;
    total += Number(number) * factor;
  }
  return total;
}

/**
 * Parses a point in time: a duration back from `nowMs` (`2h`, `7d`), or an ISO date/time
 * (`2026-12-06`, `2026-12-06T05:00`).
 *
 * @returns milliseconds since the epoch, or NaN
 */
export function parsePointInTime(text: string, nowMs: number = Date.now()): number {
  const back = parseDuration(text);
  if (!Number.isNaN(back)) return nowMs - back * 1000;
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim())) return Number.NaN;
  return Date.parse(text.trim());
}

/**
 * Whether local time is UTC: `TZ` names UTC, or (without `TZ`) `/etc/localtime` links to a UTC
 * zone or is absent. Asking the date functions instead loads the time-zone data, which cost
 * 15–50 ms of a `seamless log`.
 */
function localTimeIsUtc(env: Record<string, string | undefined> = process.env): boolean {
  const utc = /^:?((Etc\/)?(UTC|UCT|Universal|Zulu|GMT)(0|\+0)?)?$/;
  if (env.TZ !== undefined) return utc.test(env.TZ);
  try {
    const { readlinkSync } = require("node:fs") as typeof import("node:fs");
    return /zoneinfo\/(Etc\/)?(UTC|UCT|Universal|Zulu|GMT)$/.test(readlinkSync("/etc/localtime"));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}

let utcLocal: boolean | undefined;

/**
 * A moment as local time to the second: `2026-12-06 06:01:02`.
 *
 * @param ms milliseconds since the epoch
 * @example
 * ```ts
 * formatLocalTime(Date.UTC(2026, 11, 6, 6, 1, 2)); // "2026-12-06 06:01:02" where local time is UTC
 * ```
 */
export function formatLocalTime(ms: number): string {
  utcLocal ??= localTimeIsUtc();
  const date = new Date(ms);
  if (utcLocal) return date.toISOString().slice(0, 19).replace("T", " ");
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A whole number with thousands separators (`1,000,000`), without loading locale data. */
export function formatCount(count: number): string {
  return String(Math.round(count)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
