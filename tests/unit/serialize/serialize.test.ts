import { describe, expect, test } from "bun:test";
import { PlainFloat, compareCodePoints, formatPythonFloat, parsePlain, serializePlain, stringifyPlain } from "../../../lib/serialize/plain-json.ts";
import { serializeValue } from "../../../lib/serialize/celltypes.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { VECTORS } from "../../fixtures/spec-vectors.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("serializePlain()", () => {
  test("matches the worked example of cli-spec §1.3 byte for byte", () => {
    const bytes = serializePlain({ b: 1, a: [1, 2] });
    expect(text(bytes)).toBe('{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n');
    expect(computeChecksum(bytes)).toBe(VECTORS.plainExample);
  });
  test("writes empty containers and null as orjson does", () => {
    expect(computeChecksum(serializePlain({}))).toBe(VECTORS.emptyDictNewline);
    expect(computeChecksum(serializePlain(null))).toBe(VECTORS.nullNewline);
    expect(stringifyPlain({ a: [], b: {} })).toBe('{\n  "a": [],\n  "b": {}\n}');
  });
  test("sorts integer-like keys as strings, by code point", () => {
    expect(stringifyPlain({ "10": 1, "9": 2, a: 3, B: 4 })).toBe('{\n  "10": 1,\n  "9": 2,\n  "B": 4,\n  "a": 3\n}');
    // U+1F600 (surrogate pair in UTF-16) sorts after U+FFFD by code point.
    expect(compareCodePoints("\u{1F600}", "\uFFFD")).toBeGreaterThan(0);
  });
  test("escapes only quote, backslash and control characters; keeps UTF-8 raw", () => {
    expect(stringifyPlain('é"\\\n\t\u0001\u007f')).toBe('"é\\"\\\\\\n\\t\\u0001\u007f"');
  });
  test("keeps floats floats and integers integers", () => {
    expect(stringifyPlain([new PlainFloat(1), 1, 2.5])).toBe("[\n  1.0,\n  1,\n  2.5\n]");
  });
});

describe("formatPythonFloat()", () => {
  const cases: [number, string][] = [
    [1.0, "1.0"], [0.1, "0.1"], [100.0, "100.0"], [1e15, "1000000000000000.0"], [1e16, "1e+16"], [1e20, "1e+20"],
    [1.2345678901234568e17, "1.2345678901234568e+17"], [1e-7, "1e-7"], [2.5e-5, "0.000025"], [-0.0, "-0.0"], [0, "0.0"],
    [123.456, "123.456"], [-1.5e-10, "-1.5e-10"],
  ];
  for (const [value, expected] of cases) {
    test(`formats ${value} as ${expected} (orjson 3.12)`, () => expect(formatPythonFloat(value)).toBe(expected));
  }
  test("refuses non-finite floats", () => expect(() => formatPythonFloat(Number.NaN)).toThrow());
});

describe("parsePlain()", () => {
  test("keeps the int/float distinction so a round trip is byte-identical", () => {
    const source = '{\n  "a": 1.0,\n  "b": 1,\n  "c": 1e+16,\n  "d": 12345678901234567890\n}';
    expect(stringifyPlain(parsePlain(source))).toBe(source);
  });
  test("rejects trailing garbage", () => expect(() => parsePlain("{} x")).toThrow());
  test("treats __proto__ as an ordinary key", () => {
    const value = parsePlain('{"__proto__": 1}') as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(["__proto__"]);
  });
});

describe("serializeValue()", () => {
  test("str of \"3\" is the spec vector", () => expect(computeChecksum(serializeValue("3", "str"))).toBe(VECTORS.str3));
  test("str of \"test\" is the services-spec vector", () => expect(computeChecksum(serializeValue("test", "str"))).toBe(VECTORS.strTest));
  test("metavar value \"2\" as str", () => expect(computeChecksum(serializeValue("2", "str"))).toBe(VECTORS.metavarThreads2));
  test("text strips all trailing newlines and adds one", () => {
    expect(text(serializeValue("a\n\n\n", "text"))).toBe("a\n");
    expect(text(serializeValue("", "text"))).toBe("\n");
    expect(computeChecksum(serializeValue("(\necho hello\n) > RESULT", "text"))).toBe(VECTORS.codeEchoHello);
  });
  test("int, float and bool", () => {
    expect(text(serializeValue(3, "int"))).toBe("3\n");
    expect(text(serializeValue(3, "float"))).toBe("3.0\n");
    expect(text(serializeValue(true, "bool"))).toBe("true\n");
  });
  test("checksum celltype is bare hex", () => expect(text(serializeValue(VECTORS.hello.toUpperCase(), "checksum"))).toBe(VECTORS.hello));
  test("mixed escapes non-ASCII", () => expect(text(serializeValue({ k: "é" }, "mixed"))).toBe('{\n  "k": "\\u00e9"\n}\n'));
});
