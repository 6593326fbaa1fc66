import { describe, expect, test } from "bun:test";
import { formatCount, formatDuration, formatLocalTime, parseDuration, parsePointInTime } from "../../../lib/units/duration.ts";

describe("durations", () => {
  const formatted: [number, string][] = [[0.008, "8 ms"], [0.42, "420 ms"], [3.14, "3.1 s"], [42, "42 s"], [130, "2 min 10 s"], [120, "2 min"], [3900, "1 h 5 min"], [183600, "2 d 3 h"]];
  for (const [seconds, text] of formatted) test(`formatDuration(${seconds}) is "${text}"`, () => expect(formatDuration(seconds)).toBe(text));

  const parsed: [string, number][] = [["90", 90], ["90s", 90], ["15m", 900], ["2h", 7200], ["7d", 604800], ["1w", 604800], ["1h30m", 5400], ["2 days", 172800]];
  for (const [text, seconds] of parsed) test(`parseDuration("${text}") is ${seconds}`, () => expect(parseDuration(text)).toBe(seconds));

  test("parseDuration() rejects what is not a duration", () => {
    for (const text of ["", "abc", "5x", "h5", "1h junk"]) expect(parseDuration(text)).toBeNaN();
  });

  test("parsePointInTime() takes a duration back or a date", () => {
    expect(parsePointInTime("2h", 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parsePointInTime("2026-12-06T00:00:00Z")).toBe(Date.UTC(2026, 11, 6));
    expect(parsePointInTime("yesterday")).toBeNaN();
  });
});

describe("formatCount() and formatLocalTime()", () => {
  test("formatCount() groups thousands", () => {
    expect([formatCount(0), formatCount(999), formatCount(1000), formatCount(1234567)]).toEqual(["0", "999", "1,000", "1,234,567"]);
  });
  test("formatLocalTime() is the local time to the second", () => {
    const ms = Date.UTC(2026, 11, 6, 6, 1, 2);
    const date = new Date(ms);
    const pad = (n: number) => String(n).padStart(2, "0");
    expect(formatLocalTime(ms)).toBe(`${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`);
  });
});
