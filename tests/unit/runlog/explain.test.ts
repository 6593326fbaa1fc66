import { describe, expect, test } from "bun:test";
import { diffTransformations } from "../../../lib/runlog/explain.ts";
import { detailsOf } from "../../../lib/runlog/record.ts";

const C = (digit: string) => digit.repeat(64);

describe("diffTransformations()", () => {
  test("names the changed input with its old and new checksum", () => {
    const before = { dict: { "a.txt": ["bytes", null, C("1")], code: ["text", null, C("c")] }, texts: {} };
    const after = { dict: { "a.txt": ["bytes", null, C("2")], code: ["text", null, C("c")] }, texts: {} };
    expect(diffTransformations(before, after)).toEqual([{ kind: "input", name: "a.txt", old: C("1"), new: C("2") }]);
  });

  test("a changed variable shows its values; a new and a gone input are marked", () => {
    const before = { dict: { N: ["str", null, C("3")], "old.txt": ["bytes", null, C("1")] }, texts: { [C("3")]: "3" } };
    const after = { dict: { N: ["str", null, C("4")], "new.txt": ["bytes", null, C("2")] }, texts: { [C("4")]: "4" } };
    expect(diffTransformations(before, after)).toEqual([
      { kind: "input", name: "old.txt", old: C("1"), new: null },
      { kind: "input", name: "new.txt", old: null, new: C("2") },
      { kind: "variable", name: "N", old: "3", new: "4" },
    ]);
  });

  test("changed code lists the lines removed and added; an input used as the command is the executable", () => {
    const before = { dict: { "run.sh": ["bytes", null, C("1")], code: ["text", null, C("a")] }, texts: { [C("a")]: "./run.sh x\nwc -l" } };
    const after = { dict: { "run.sh": ["bytes", null, C("2")], code: ["text", null, C("b")] }, texts: { [C("b")]: "./run.sh x\nwc -c" } };
    expect(diffTransformations(before, after)).toEqual([
      { kind: "executable", name: "run.sh", old: C("1"), new: C("2") },
      { kind: "code", name: "code", old: C("a"), new: C("b"), lines: ["- wc -l", "+ wc -c"] },
    ]);
  });

  test("identical identities differ in nothing, whatever their META__ pins and execution dunders", () => {
    const dict = { __language__: "bash", __output__: ["result", "bytes", null], code: ["text", null, C("a")] };
    expect(diffTransformations({ dict: { ...dict, META__X: ["str", null, C("1")], __meta__: {} }, texts: {} }, { dict, texts: {} })).toEqual([]);
  });

  test("a new result target is an output difference", () => {
    const before = { dict: { __output__: ["result", "bytes", null] }, texts: {} };
    const after = { dict: { __output__: ["result", "deepfolder", null] }, texts: {} };
    expect(diffTransformations(before, after).map((d) => d.kind)).toEqual(["output"]);
  });
});

describe("detailsOf()", () => {
  test("keeps the code text and the values of str pins, not input files", () => {
    const buffers: Record<string, Uint8Array> = { [C("a")]: Buffer.from("echo $N\n"), [C("3")]: Buffer.from('"3"\n'), [C("1")]: Buffer.from("data") };
    const details = detailsOf({ code: ["text", null, C("a")], N: ["str", null, C("3")], "a.txt": ["bytes", null, C("1")] }, (c) => buffers[c]);
    expect(details.texts).toEqual({ [C("a")]: "echo $N\n", [C("3")]: "3" });
  });
});
