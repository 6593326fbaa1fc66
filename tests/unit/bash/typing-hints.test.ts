import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { nearestExistingName, typingHint } from "../../../lib/bash/typing-hints.ts";
import { resultTargetDirsOf } from "../../../lib/execute/result-dirs.ts";
import { generateBashCode } from "../../../lib/transformation/bash-code.ts";

describe("typingHint()", () => {
  test("an awk program is called a program, a glob a glob, and both get -g1", () => {
    expect(typingHint("rule1-missing", "{print $1/2.5}", ".")).toContain("looks like a program or expression");
    expect(typingHint("rule1-missing", "*.txt", ".")).toContain("looks like a glob");
    expect(typingHint("rule1-missing", "*.txt", ".")).toContain("-g1");
  });

  test("a misspelt file name gets the nearest existing one", () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "data.csv"), "");
    writeFileSync(join(dir.path, "data.csv.CHECKSUM"), "");
    expect(nearestExistingName("data.cvs", dir.path)).toBe("data.csv");
    expect(nearestExistingName("./DATA.CSV", dir.path)).toBe("data.csv");
    expect(nearestExistingName("other.txt", dir.path)).toBeNull();
    expect(typingHint("rule1-missing", "data.cvs", dir.path)).toContain("did you mean 'data.csv'?");
  });

  test("a sed expression ending in / is told how to end otherwise; rule 2 names -g2", () => {
    expect(typingHint("rule3", "s/a/b/", ".")).toContain("'s/a/b/g'");
    expect(typingHint("rule3", "out/", ".")).toContain("drop the trailing '/'");
    expect(typingHint("rule2", "/etc/hostname", ".")).toContain("-g2");
  });
});

describe("resultTargetDirsOf()", () => {
  test("finds the parent directories of result targets in generated code, and nothing in stdout capture", () => {
    const code = generateBashCode({ command: "echo hi > work/sub/out.txt", makeExecutables: [], metavarNames: [], resultTargets: [["work/sub/out.txt", null], ["top.txt", null]], captureStdout: false });
    expect(resultTargetDirsOf(code)).toEqual(["work/sub"]);
    expect(resultTargetDirsOf(generateBashCode({ command: "mv a RESULT/x", makeExecutables: [], metavarNames: [], resultTargets: null, captureStdout: true }))).toEqual([]);
  });

  test("refuses absolute and .. directories", () => {
    expect(resultTargetDirsOf("mkdir -p RESULT/x\nmv ../x/y RESULT/x\nmv /abs/y RESULT/x\n")).toEqual([]);
  });
});
