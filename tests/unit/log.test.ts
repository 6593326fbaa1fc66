import { describe, expect, test } from "bun:test";
import { SILENT_LOG, createLog, createMemoryLog } from "../../lib/log.ts";

function capture(prefix: string, verbosity: number) {
  const written: string[] = [];
  return { log: createLog({ write: (text) => written.push(text), prefix, verbosity }), written };
}

describe("createLog()", () => {
  test("message() prefixes a line and drops what is above the verbosity", () => {
    const { log, written } = capture("seamless run", 0);
    log.message(0, "Upload 2 files, total 12 bytes");
    log.message(1, "Transformation finished");
    expect(written).toEqual(["seamless run: Upload 2 files, total 12 bytes\n"]);
  });

  test("message() boxes a message two levels below the verbosity, prefixing each line", () => {
    const { log, written } = capture("seamless run", 2);
    log.message(0, "first\nsecond");
    log.message(1, "plain");
    const rule = "*".repeat(60);
    expect(written).toEqual([`${rule}\nseamless run: * first\nseamless run: * second\n${rule}\n`, "seamless run: plain\n"]);
  });

  test("-q (verbosity -1) silences messages and warnings but not errors", () => {
    const { log, written } = capture("seamless upload", -1);
    log.message(0, "hidden");
    log.warn("hidden too");
    log.error("Cannot write \"x\": no space left");
    expect(written).toEqual(['seamless upload: Cannot write "x": no space left\n']);
  });

  test("error() is never boxed; warn() is a level-0 message", () => {
    const { log, written } = capture("p", 3);
    log.error("bad");
    log.warn("careful");
    expect(written[0]).toBe("p: bad\n");
    expect(written[1]).toStartWith("*".repeat(60));
  });

  test("a log without prefix writes bare lines", () => {
    const { log, written } = capture("", 0);
    log.message(0, "*** Job 1: true, FINISHED ***");
    expect(written).toEqual(["*** Job 1: true, FINISHED ***\n"]);
  });

  test("child() shares the sink and overrides prefix or verbosity", () => {
    const { log, written } = capture("seamless x", 0);
    const louder = log.child({ verbosity: 1 });
    louder.message(1, "Launching");
    log.message(1, "not shown");
    log.child({ prefix: "seamless y" }).message(0, "other");
    expect([louder.verbosity, louder.prefix]).toEqual([1, "seamless x"]);
    expect(written).toEqual(["seamless x: Launching\n", "seamless y: other\n"]);
  });
});

describe("SILENT_LOG and createMemoryLog()", () => {
  test("SILENT_LOG says nothing at any level", () => {
    expect(SILENT_LOG.verbosity).toBeLessThan(-1);
    SILENT_LOG.error("nowhere");
  });

  test("createMemoryLog() keeps bare texts up to its verbosity", () => {
    const { log, lines } = createMemoryLog(1);
    log.message(1, "kept");
    log.message(2, "dropped");
    log.child({ verbosity: 3 }).message(3, "child kept");
    log.error("error kept");
    expect(lines).toEqual(["kept", "child kept", "error kept"]);
  });
});

test("mod.ts exposes createLog, SILENT_LOG and createMemoryLog", async () => {
  const seamless = (await import("../../mod.ts")) as Record<string, unknown>;
  expect([typeof seamless.createLog, typeof seamless.createMemoryLog, seamless.SILENT_LOG]).toEqual(["function", "function", SILENT_LOG]);
});
