/** Names that upload stores are names that download restores (issue 17, items 3 and 13). */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateIndexKey } from "../../../lib/serialize/deep-index.ts";
import { listDirectoryFiles } from "../../../lib/checksum/file-checksum.ts";
import { tempDir } from "../../helpers.ts";

describe("validateIndexKey()", () => {
  test("accepts a backslash, an ordinary character of a POSIX name (as Python does)", () => {
    expect(() => validateIndexKey("q1\\q2.txt", "m.INDEX")).not.toThrow();
    expect(() => validateIndexKey("sub/a\\b", "m.INDEX")).not.toThrow();
  });
  test("names a NUL character as such, not as an absolute or empty path", () => {
    expect(() => validateIndexKey("a\0b", "m.INDEX")).toThrow('Unsafe path "a\\u0000b" in index "m.INDEX": a NUL character cannot be part of a file name');
  });
  test("refuses empty, absolute and dot segments with their own words", () => {
    expect(() => validateIndexKey("", "x")).toThrow("empty paths are not allowed");
    expect(() => validateIndexKey("/etc/passwd", "x")).toThrow("absolute paths are not allowed");
    expect(() => validateIndexKey("a/../b", "x")).toThrow('".." segments are not allowed');
    expect(() => validateIndexKey("a//b", "x")).toThrow('"//" segments are not allowed');
  });
});

describe("listDirectoryFiles() refuses names an index cannot give back", () => {
  test("a file and its compressed twin (both would be key a.txt)", () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "d"));
    writeFileSync(join(dir.path, "d/a.txt"), "plain\n");
    writeFileSync(join(dir.path, "d/a.txt.gz"), "x");
    expect(() => listDirectoryFiles(join(dir.path, "d"))).toThrow(/would both be stored as "a.txt"/);
  });
  test("a name that is not valid UTF-8", () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "d"));
    writeFileSync(Buffer.concat([Buffer.from(join(dir.path, "d/")), Buffer.from([0x66, 0xff, 0x2e, 0x74])]), "x");
    expect(() => listDirectoryFiles(join(dir.path, "d"))).toThrow(/is not valid UTF-8/);
  });
  test("a backslash and a literal U+FFFD are fine", () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "d"));
    writeFileSync(join(dir.path, "d/q1\\q2.txt"), "precious\n");
    writeFileSync(join(dir.path, "d/\uFFFD.txt"), "odd but valid\n");
    expect(listDirectoryFiles(join(dir.path, "d")).map((file) => file.key).sort()).toEqual(["q1\\q2.txt", "\uFFFD.txt"]);
  });
});
