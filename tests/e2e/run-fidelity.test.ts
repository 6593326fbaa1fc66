/**
 * End-to-end: the identity rules that issue 18 found broken against the real Python
 * seamless-run (cli-spec §3.5, §3.8, §3.11, §3.13). Each case checks the exact generated code
 * and the exact transformation.json of `seamless run --dry -j J`.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";

const sha256 = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

type Pin = { name: string; content: string };

/** transformation.json as Python writes it (sorted keys, indent 2): file pins, output, code. */
function expectedTransformation(code: string, output: "bytes" | "deepfolder", pins: Pin[]): string {
  const sorted = [...pins].sort((a, b) => (a.name < b.name ? -1 : 1));
  const lines: string[] = [];
  const entries: [string, string][] = [];
  if (sorted.length > 0) {
    const format = sorted
      .map((p) => `    "${p.name}": {\n      "filesystem": {\n        "mode": "file",\n        "optional": true\n      }\n    }`)
      .join(",\n");
    entries.push(["__format__", `{\n${format}\n  }`]);
  }
  entries.push(["__language__", `"bash"`]);
  entries.push(["__output__", `[\n    "result",\n    "${output}",\n    null\n  ]`]);
  entries.push(["code", `[\n    "text",\n    null,\n    "${sha256(code)}"\n  ]`]);
  for (const pin of sorted) entries.push([pin.name, `[\n    "bytes",\n    null,\n    "${sha256(pin.content)}"\n  ]`]);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [key, value] of entries) lines.push(`  "${key}": ${value}`);
  return `{\n${lines.join(",\n")}\n}\n`;
}

async function dryJob(cwd: string, args: string[]) {
  const result = await runSeamless(["run", "--dry", "-j", "J", ...args], { cwd, env: scrubbedEnv(join(cwd, ".cache")) });
  const job = join(cwd, "J");
  const read = (name: string) => (existsSync(join(job, name)) ? readFileSync(join(job, name), "utf8") : null);
  return { ...result, code: read("command.txt"), transformation: read("transformation.json") };
}

const IN = { name: "in.txt", content: "b\na\n" };

describe("a redirect on the last command of a list is the result target (issue 18 bug 1)", () => {
  test("mkdir -p results && sort in.txt > results/sorted.txt", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const job = await dryJob(dir.path, ["mkdir -p results && sort in.txt > results/sorted.txt"]);
    const code = "mkdir -p RESULT/results\nmkdir -p results && sort in.txt > results/sorted.txt\nmv results/sorted.txt RESULT/results\n";
    expect([job.exitCode, job.stderr]).toEqual([0, ""]);
    expect(job.code).toBe(code);
    // Only the first command, `mkdir -p results`, is analysed for arguments (cli-spec §3.5): no pins.
    expect(job.transformation).toBe(expectedTransformation(code, "deepfolder", []));
    expect(job.stdout).toBe(`${sha256(job.transformation!)}\n`);
  });

  const cases: [string, string][] = [
    ["a || b > f", "sort -c in.txt || sort in.txt > f.txt"],
    ["a | b && c > f", "sort in.txt | uniq && echo done > status.txt"],
    ["x > a; y > b && z > c", "sort in.txt > a.txt; sort in.txt > b.txt && sort in.txt > c.txt"],
    ["a && b | c > f", "test -s in.txt && sort in.txt | uniq > u.txt"],
  ];
  for (const [shape, command] of cases) {
    test(`${shape}: ${command}`, async () => {
      using dir = tempDir();
      writeFileSync(join(dir.path, "in.txt"), IN.content);
      const job = await dryJob(dir.path, [command]);
      const target = command.split("> ").pop()!;
      const code = `mkdir -p RESULT/\n${command}\nmv ${target} RESULT/\n`;
      expect(job.code).toBe(code);
      // Only the first command (or its pipeline) is analysed for arguments: it names in.txt.
      expect(job.transformation).toBe(expectedTransformation(code, "deepfolder", [IN]));
    });
  }

  test("a redirect on a compound at the end of a list is the compound's: stdout is captured", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const job = await dryJob(dir.path, ["test -s in.txt && (sort in.txt) > f.txt"]);
    const code = "(\ntest -s in.txt && (sort in.txt) > f.txt\n) > RESULT\n";
    expect(job.code).toBe(code);
    expect(job.transformation).toBe(expectedTransformation(code, "bytes", [IN]));
  });

  test("it runs: results/sorted.txt and its sidecar land in the working directory", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const env = scrubbedEnv(join(dir.path, ".cache"));
    const result = await runSeamless(["run", "-i", "in.txt", "mkdir -p results && sort in.txt > results/sorted.txt"], { cwd: dir.path, env });
    expect([result.exitCode, result.stdout]).toEqual([0, ""]);
    expect(readFileSync(join(dir.path, "results/sorted.txt"), "utf8")).toBe("a\nb\n");
    expect(readFileSync(join(dir.path, "results/sorted.txt.CHECKSUM"), "utf8")).toBe(`${sha256("a\nb\n")}\n`);
  });
});

describe("-w DIR and -W only set the prefix stripped from pin names (issue 18 bug 2, cli-spec §3.8)", () => {
  const X = { name: "x.txt", content: "x\n" };
  test("-w sub 'cat sub/x.txt' gives pin x.txt and code 'cat x.txt'", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "sub"));
    writeFileSync(join(dir.path, "sub/x.txt"), X.content);
    const job = await dryJob(dir.path, ["-w", "sub", "cat sub/x.txt"]);
    const code = "(\ncat x.txt\n) > RESULT\n";
    expect([job.exitCode, job.code]).toEqual([0, code]);
    expect(job.transformation).toBe(expectedTransformation(code, "bytes", [X]));
    const run = await runSeamless(["run", "-w", "sub", "cat sub/x.txt"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, ".cache")) });
    expect([run.exitCode, run.stdout]).toEqual([0, "x\n"]);
  });

  test("-w sub 'cat x.txt' is an error: arguments are looked up in the cwd", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "sub"));
    writeFileSync(join(dir.path, "sub/x.txt"), X.content);
    const job = await dryJob(dir.path, ["-w", "sub", "cat x.txt"]);
    expect(job.exitCode).toBe(1);
    expect(job.stderr).toContain("Argument #2 'x.txt' has an extension.");
    expect(existsSync(join(dir.path, "J"))).toBe(false);
  });

  test("-W 'cat y.txt' with y.txt in the cwd: the pin is its absolute path without the leading /", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "y.txt"), "y\n");
    const pin = `${realpathSync(dir.path).slice(1)}/y.txt`;
    const job = await dryJob(dir.path, ["-W", "cat y.txt"]);
    const code = `(\ncat ${pin}\n) > RESULT\n`;
    expect([job.exitCode, job.code]).toEqual([0, code]);
    expect(job.transformation).toBe(expectedTransformation(code, "bytes", [{ name: pin, content: "y\n" }]));
  });
});

describe("the redirect barrier is the last redirect, nested ones included (issue 18 bug 3, cli-spec §3.5)", () => {
  const WORDS = { name: "words.txt", content: "pear\napple\npear\n" };
  test("sort words.txt | tee >(gzip > sorted.txt.gz) | uniq -c: the >(…) word is dropped", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "words.txt"), WORDS.content);
    const command = "sort words.txt | tee >(gzip > sorted.txt.gz) | uniq -c";
    const job = await dryJob(dir.path, [command]);
    const code = `(\n${command}\n) > RESULT\n`;
    expect([job.exitCode, job.stderr, job.code]).toEqual([0, "", code]);
    expect(job.transformation).toBe(expectedTransformation(code, "bytes", [WORDS]));
    const run = await runSeamless(["run", command], { cwd: dir.path, env: scrubbedEnv(join(dir.path, ".cache")) });
    expect([run.exitCode, run.stdout]).toEqual([0, "      1 apple\n      2 pear\n"]);
  });

  test("sort > sorted.txt words.txt 2> sort.log keeps words.txt as an input", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "words.txt"), WORDS.content);
    const command = "sort > sorted.txt words.txt 2> sort.log";
    const job = await dryJob(dir.path, [command]);
    const code = `mkdir -p RESULT/\n${command}\nmv sorted.txt RESULT/\n`;
    expect([job.exitCode, job.code]).toEqual([0, code]);
    expect(job.transformation).toBe(expectedTransformation(code, "deepfolder", [WORDS]));
  });

  test("a word glued to the redirect (cat in.txt>out.txt) ends where the barrier starts and is dropped, as in bashlex", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const job = await dryJob(dir.path, ["cat in.txt>out.txt"]);
    const code = "mkdir -p RESULT/\ncat in.txt>out.txt\nmv out.txt RESULT/\n";
    expect(job.code).toBe(code);
    expect(job.transformation).toBe(expectedTransformation(code, "deepfolder", []));
  });
});

describe("result-target paths (issue 18 bug 4, cli-spec §3.11)", () => {
  test("> ./out.txt keeps its ./ (the workdir string is the absolute cwd, never \".\")", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const job = await dryJob(dir.path, ["sort in.txt > ./out.txt"]);
    const code = "mkdir -p RESULT/.\nsort in.txt > ./out.txt\nmv ./out.txt RESULT/.\n";
    expect(job.code).toBe(code);
    expect(job.transformation).toBe(expectedTransformation(code, "deepfolder", [IN]));
    const run = await runSeamless(["run", "sort in.txt > ./out.txt"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, ".cache")) });
    expect([run.exitCode, run.stderr]).toEqual([0, ""]);
    expect(readFileSync(join(dir.path, "out.txt"), "utf8")).toBe("a\nb\n");
    expect(readFileSync(join(dir.path, "out.txt.CHECKSUM"), "utf8")).toBe(`${sha256("a\nb\n")}\n`);
  });

  test("> <cwd>/out.txt and '> $PWD/out.txt' become > out.txt: the same transformation", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const code = "mkdir -p RESULT/\nsort in.txt > out.txt\nmv out.txt RESULT/\n";
    for (const target of [`${realpathSync(dir.path)}/out.txt`, "$PWD/out.txt", "${PWD}/out.txt", "out.txt"]) {
      const job = await dryJob(dir.path, [`sort in.txt > ${target}`]);
      expect(job.code).toBe(code);
      expect(job.transformation).toBe(expectedTransformation(code, "deepfolder", [IN]));
      Bun.spawnSync(["rm", "-rf", join(dir.path, "J")]);
    }
  });

  test("a target outside the working directory is refused up front, naming it", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    for (const target of ["/tmp/seamless-outside.txt", "../outside.txt"]) {
      const result = await runSeamless(["run", `sort in.txt > ${target}`], { cwd: dir.path, env: scrubbedEnv(join(dir.path, ".cache")) });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(`Result target "${target}" is outside the working directory`);
      expect(existsSync(join(dir.path, ".cache", "__TOPLEVEL__"))).toBe(false); // nothing stored, nothing cached
    }
  });

  test("> /dev/null is not a result target: stdout is captured", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const job = await dryJob(dir.path, ["sort in.txt > /dev/null"]);
    expect(job.code).toBe("(\nsort in.txt > /dev/null\n) > RESULT\n");
  });
});

describe("--dry with --scratch or -nd and no result target (issue 18 bug 5, cli-spec §3.11)", () => {
  for (const flags of [["--scratch"], ["-nd"], ["--no-download"], ["-j", "J", "-nd"]]) {
    test(`--dry ${flags.join(" ")} 'cat in.txt' fails before writing anything`, async () => {
      using dir = tempDir();
      writeFileSync(join(dir.path, "in.txt"), IN.content);
      const result = await runSeamless(["run", "--dry", ...flags, "cat in.txt"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, ".cache")) });
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe("seamless run: Download disabled. Refuse to print output to screen.\n");
      expect(existsSync(join(dir.path, "J"))).toBe(false);
    });
  }
  test("with a result target, --dry -nd is fine", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), IN.content);
    const result = await runSeamless(["run", "--dry", "-nd", "sort in.txt > out.txt"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, ".cache")) });
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, "", ""]);
  });
});
