/** The database codec and Python's JSON layout, which the database's answers and stored texts follow byte for byte. */
import { describe, expect, test } from "bun:test";
import { parsePlain } from "../../../lib/serialize/plain-json.ts";
import { dumpsPythonJson, formatPythonFloatRepr, pythonJsonEquals, quotePythonString } from "../../../lib/serialize/python-json.ts";
import { decodeChecksumAnswer, decodeChecksumListAnswer, formatDatabaseResult, parseDatabaseChecksum } from "../../../lib/wire/database.ts";

describe("formatPythonFloatRepr() matches Python repr(float)", () => {
  const cases: [number, string][] = [
    [1, "1.0"], [0.5, "0.5"], [-2.25, "-2.25"], [0, "0.0"], [-0, "-0.0"], [1e16, "1e+16"], [1e15, "1000000000000000.0"],
    [123456789012345680, "1.2345678901234568e+17"], [0.0001, "0.0001"], [0.00001, "1e-05"], [1.5e-7, "1.5e-07"], [0.1 + 0.2, "0.30000000000000004"],
    [1e100, "1e+100"], [Number.NaN, "NaN"], [Number.POSITIVE_INFINITY, "Infinity"],
  ];
  for (const [value, expected] of cases) test(`${value} → ${expected}`, () => expect(formatPythonFloatRepr(value)).toBe(expected));
});

describe("dumpsPythonJson() matches json.dumps", () => {
  test("default separators, ensure_ascii, ints and floats kept apart", () => {
    expect(dumpsPythonJson(parsePlain('{"b": 1.0, "a": [1, 2.50, -0, 1e5], "é": "\\u2603\\n\\u007f\\"", "big": 123456789012345678901}'))).toBe(
      '{"b": 1.0, "a": [1, 2.5, 0, 100000.0], "\\u00e9": "\\u2603\\n\\u007f\\"", "big": 123456789012345678901}',
    );
  });
  test("sort_keys with indent=2, empty containers, compact", () => {
    expect(dumpsPythonJson({ b: [], a: { y: [1, { z: null }] }, c: {} }, { sortKeys: true, indent: 2 })).toBe('{\n  "a": {\n    "y": [\n      1,\n      {\n        "z": null\n      }\n    ]\n  },\n  "b": [],\n  "c": {}\n}');
    expect(dumpsPythonJson({ a: [1, "x"], b: true }, { compact: true })).toBe('{"a":[1,"x"],"b":true}');
  });
  test("astral characters become surrogate pairs", () => {
    expect(quotePythonString("😀")).toBe('"\\ud83d\\ude00"');
  });
});

describe("pythonJsonEquals() is Python ==", () => {
  test("numbers across int, float and bool; key order; lists ordered", () => {
    expect(pythonJsonEquals(parsePlain('{"a": 1, "b": [true, 2.0]}'), parsePlain('{"b": [1, 2], "a": 1.0}'))).toBe(true);
    expect(pythonJsonEquals(parsePlain("[1, 2]"), parsePlain("[2, 1]"))).toBe(false);
    expect(pythonJsonEquals(parsePlain('{"a": 1}'), parsePlain('{"a": 1, "b": null}'))).toBe(false);
    expect(pythonJsonEquals(parsePlain('"1"'), parsePlain("1"))).toBe(false);
    expect(pythonJsonEquals(parsePlain("null"), parsePlain("0"))).toBe(false);
  });
});

describe("parseDatabaseChecksum() is bytes.fromhex(...).hex() plus the 32-byte rule", () => {
  test("cases", () => {
    expect(parseDatabaseChecksum("AB".repeat(32))).toEqual({ ok: true, checksum: "ab".repeat(32) });
    expect(parseDatabaseChecksum(` ${"ab ".repeat(32)}`)).toEqual({ ok: true, checksum: "ab".repeat(32) });
    expect(parseDatabaseChecksum("a b".padEnd(64, "0"))).toEqual({ ok: false, reason: "not-hex" });
    expect(parseDatabaseChecksum("abc")).toEqual({ ok: false, reason: "not-hex" });
    expect(parseDatabaseChecksum("abcd")).toEqual({ ok: false, reason: "wrong-length" });
    expect(parseDatabaseChecksum(42)).toEqual({ ok: false, reason: "not-a-string" });
  });
  test("answers: bare checksums, JSON lists, and what the server sends", () => {
    expect(decodeChecksumAnswer("c".repeat(64))).toBe("c".repeat(64));
    expect(() => decodeChecksumAnswer("ERROR: x")).toThrow("expected a checksum");
    expect(decodeChecksumListAnswer(`["${"c".repeat(64)}"]`)).toEqual(["c".repeat(64)]);
    expect(formatDatabaseResult("c".repeat(64))).toBe("c".repeat(64));
    expect(formatDatabaseResult([true, { a: 1 }])).toBe('[true, {"a": 1}]');
  });
});
