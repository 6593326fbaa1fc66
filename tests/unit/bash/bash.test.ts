import { describe, expect, test } from "bun:test";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { unquoteWord } from "../../../lib/bash/unquote.ts";
import { parseCommandLine } from "../../../lib/bash/parse.ts";
import { isPythonFloat, pathSuffix } from "../../../lib/bash/arguments.ts";
import { generateBashCode } from "../../../lib/transformation/bash-code.ts";
import { prepareBashTransformation, type BashRunRequest } from "../../../lib/transformation/prepare-bash.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { SIMPLE_COMMAND, VECTORS } from "../../fixtures/spec-vectors.ts";
import { tempDir } from "../../helpers.ts";

describe("unquoteWord()", () => {
  test("removes quotes and escapes, keeps substitutions verbatim", () => {
    expect(unquoteWord(`'./data/a.txt'`)).toBe("./data/a.txt");
    expect(unquoteWord(`"a b"'c'\\ d`)).toBe("a bc d");
    expect(unquoteWord(`"$(cat 'x')"`)).toBe("$(cat 'x')");
    expect(unquoteWord(`"\\$x"`)).toBe("$x");
  });
});

describe("pathSuffix() and isPythonFloat()", () => {
  const suffixes: [string, string][] = [["a.tar.gz", ".gz"], [".bashrc", ""], ["file.", ""], ["{print $1/2.5}", ".5}"], ["data/", ""], ["0.1", ".1"]];
  for (const [arg, suffix] of suffixes) test(`suffix of ${JSON.stringify(arg)} is ${JSON.stringify(suffix)}`, () => expect(pathSuffix(arg)).toBe(suffix));
  test("floats as Python parses them", () => {
    expect(isPythonFloat("0.1")).toBe(true);
    expect(isPythonFloat("3.0")).toBe(true);
    expect(isPythonFloat("1_000.5")).toBe(true);
    expect(isPythonFloat("v1.2")).toBe(false);
  });
});

describe("parseCommandLine()", () => {
  test("finds nested commands, sorted by start, with bashlex words", async () => {
    const line = await parseCommandLine(`echo $(cat x) "y z"`);
    expect(line.commands.map((c) => c.words.map((w) => w.text))).toEqual([["echo", "$(cat x)", "cat", "x", "y z"], ["cat", "x"]]);
  });
  test("applies the redirect barrier and drops assignment prefixes", async () => {
    const line = await parseCommandLine("X=1 cat > out a.txt");
    expect(line.commands[0]!.words.map((w) => w.text)).toEqual(["cat"]);
    expect(line.commands[0]!.redirects[0]).toMatchObject({ op: ">", fd: null, target: "out" });
  });
  test("a pipeline's trailing redirect belongs to its last command", async () => {
    const line = await parseCommandLine("cat a.txt | sort > out.txt");
    expect(line.commands[0]!.redirects).toEqual([]);
    expect(line.commands[1]!.redirects[0]!.target).toBe("out.txt");
    expect(line.commands[0]!.pipeline).toEqual([0, 1]);
  });
  test("a list's trailing redirect belongs to its last command, through pipelines and `!`; a compound's to nobody", async () => {
    const owners = async (source: string) => (await parseCommandLine(source)).commands.map((c) => c.redirects.map((r) => r.target));
    expect(await owners("a && b > f")).toEqual([[], ["f"]]);
    expect(await owners("a || b | c > f")).toEqual([[], [], ["f"]]);
    expect(await owners("x > a; y > b && z > c")).toEqual([["a"], ["b"], ["c"]]);
    expect(await owners("a && ! b > f")).toEqual([[], ["f"]]);
    expect(await owners("a && (b) > f")).toEqual([[], []]);
    expect(await owners("a > x && b")).toEqual([["x"], []]);
  });
  test("the barrier is the last redirect met inside the command, nested ones included (bashlex: word end < barrier)", async () => {
    const words = async (source: string) => (await parseCommandLine(source)).commands.map((c) => c.words.map((w) => w.text));
    expect(await words("sort > s.txt w.txt 2> log")).toEqual([["sort", "w.txt"]]);
    expect(await words("tee >(gzip > s.gz) x")).toEqual([["tee", "gzip"], ["gzip"]]);
    expect(await words("echo $(cat x > y) z")).toEqual([["echo", "cat", "x"], ["cat", "x"]]);
    expect(await words("cat a.txt>out")).toEqual([["cat"]]);
  });
  test("redirects and a pipeline after a here-document's start are the command's (tree-sitter nests them in the heredoc)", async () => {
    const redirected = await parseCommandLine("cat <<EOF > out.txt\nhello > x\nEOF");
    expect(redirected.commands[0]!.redirects.map((r) => [r.op, r.target])).toEqual([["<<", "EOF"], [">", "out.txt"]]);
    const piped = await parseCommandLine("cat <<EOF | sort > out.txt\nb\nEOF");
    expect(piped.commands.map((c) => c.pipeline)).toEqual([[0, 1], [1]]);
    expect(piped.commands[1]!.redirects.map((r) => r.target)).toEqual(["out.txt"]);
  });
  test("a compound at the top takes every redirect inside it", async () => {
    const line = await parseCommandLine("(sort a > b; cat c) > d");
    expect(line.compoundRedirects.map((r) => r.target)).toEqual(["b", "d"]);
  });
  test("primary pipelines: `a; b` and `a && b` analyse one command, `(a | b) > o` both plus the compound redirect", async () => {
    expect((await parseCommandLine("a; b")).commands[0]!.pipeline).toEqual([0]);
    expect((await parseCommandLine("a && b")).commands[0]!.pipeline).toEqual([0]);
    const compound = await parseCommandLine("(a | b) > o");
    expect(compound.commands[0]!.pipeline).toEqual([0, 1]);
    expect(compound.compoundRedirects[0]!.target).toBe("o");
  });
  test("rejects bad syntax", async () => {
    await expect(parseCommandLine("cat 'unterminated")).rejects.toThrow(/Unrecognized bash syntax/);
  });
});

describe("generateBashCode()", () => {
  test("stdout capture (cli-spec §2.3a)", () => {
    const code = generateBashCode({ command: "echo hello", makeExecutables: [], metavarNames: [], resultTargets: null, captureStdout: true });
    expect(code).toBe("(\necho hello\n) > RESULT\n");
  });
  test("-cp :bar (cli-spec §3.13)", () => {
    const code = generateBashCode({ command: "cat data/a.txt", makeExecutables: [], metavarNames: [], resultTargets: [["STDOUT", "bar"]], captureStdout: true });
    expect(code).toBe("mkdir -p RESULT/\n(\ncat data/a.txt\n) > STDOUT\nmv STDOUT RESULT/\n");
  });
  test("-cp foo:bar plus > sub/out.txt (cli-spec §3.13)", () => {
    const code = generateBashCode({ command: "head -2 data/a.txt > sub/out.txt", makeExecutables: [], metavarNames: [], resultTargets: [["foo", "bar"], ["sub/out.txt", null]], captureStdout: false });
    expect(code).toBe("mkdir -p RESULT/ RESULT/sub\nhead -2 data/a.txt > sub/out.txt\nmv foo RESULT/\nmv sub/out.txt RESULT/sub\n");
  });
  test("executables and metavars", () => {
    const code = generateBashCode({ command: "x.sh", makeExecutables: ["x.sh"], metavarNames: ["B", "A"], resultTargets: null, captureStdout: true });
    expect(code).toBe('export PATH=./:$PATH\nchmod +x \'x.sh\'\nexport A="${META__A}"\nexport B="${META__B}"\n(\nx.sh\n) > RESULT\n');
  });
});

function request(command: string, workdir: string, extra: Partial<BashRunRequest> = {}): BashRunRequest {
  return {
    command, workdir, rootMode: false, rules: { rule1: true, rule2: true }, mappingMode: "literal", primary: 1, inputs: [], inputFiles: [],
    metafiles: [], vars: [], metavars: [], prologues: [], captures: [], directPrint: false, ...extra,
  };
}

/** Prepares as `seamless run` would in `dir`: arguments are found relative to the process cwd (cli-spec §3.8). */
async function prepareIn(dir: string, command: string, extra: Partial<BashRunRequest> = {}) {
  const line = await parseCommandLine(command);
  const previous = process.cwd();
  process.chdir(dir);
  try {
    return await prepareBashTransformation(request(command, realpathSync(dir), extra), line, null, async () => {});
  } finally {
    process.chdir(previous);
  }
}

/** tests/cmd of seamless-transformer, with the data files given by their sidecars. */
function makeSpecData(dir: string): void {
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "data/a.txt.CHECKSUM"), `${VECTORS.dataA}\n`);
  writeFileSync(join(dir, "data/b.txt.CHECKSUM"), `${VECTORS.dataB}\n`);
}

describe("prepareBashTransformation() reproduces the spec's transformation checksums", () => {
  test("echo hello (cli-spec §2.3a)", async () => {
    using dir = tempDir();
    const prepared = await prepareIn(dir.path, "echo hello");
    expect(computeChecksum(prepared.codeBuffer)).toBe(VECTORS.codeEchoHello);
    expect(prepared.tfChecksum).toBe(VECTORS.tfEchoHello);
  });
  test("simple.sh (cli-spec §2.3b)", async () => {
    using dir = tempDir();
    makeSpecData(dir.path);
    const prepared = await prepareIn(dir.path, SIMPLE_COMMAND);
    expect(computeChecksum(prepared.codeBuffer)).toBe(VECTORS.codeSimple);
    expect(prepared.tfChecksum).toBe(VECTORS.tfSimple);
  });
  test("head -3 data/a.txt > out.txt (cli-spec §2.3c)", async () => {
    using dir = tempDir();
    makeSpecData(dir.path);
    const prepared = await prepareIn(dir.path, "head -3 data/a.txt > out.txt");
    expect(computeChecksum(prepared.codeBuffer)).toBe(VECTORS.codeHead);
    expect(prepared.resultTargets).toEqual([["out.txt", null]]);
    expect(prepared.tfChecksum).toBe(VECTORS.tfHead);
  });
  test("--var N=3 echo hello (cli-spec §2.3e)", async () => {
    using dir = tempDir();
    const prepared = await prepareIn(dir.path, "echo hello", { vars: [["N", "3"]] });
    expect(prepared.dict.N).toEqual(["str", null, VECTORS.str3]);
    expect(prepared.tfChecksum).toBe(VECTORS.tfVarN3);
  });
  test("--metavar THREADS=2 is outside the identity but changes the code", async () => {
    using dir = tempDir();
    const prepared = await prepareIn(dir.path, "echo hello", { metavars: [["THREADS", "2"]] });
    expect(prepared.dict.META__THREADS).toEqual(["str", null, VECTORS.metavarThreads2]);
    expect(prepared.code).toBe('export THREADS="${META__THREADS}"\n(\necho hello\n) > RESULT\n');
    expect(prepared.tfChecksum).not.toBe(VECTORS.tfEchoHello);
  });
  test("ls data and ls data/ (cli-spec §2.3d), a real directory", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "data"));
    writeFileSync(join(dir.path, "data/x.txt"), "hello\n");
    const plain = await prepareIn(dir.path, "ls data");
    const slash = await prepareIn(dir.path, "ls data/");
    expect(plain.tfChecksum).toBe(slash.tfChecksum);
    expect(plain.dict.data).toEqual(["mixed", null, computeChecksum(`{\n  "x.txt": "${VECTORS.hello}"\n}\n`)]);
  });
  test("ls data with the spec's index gives the spec's checksum", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "data.INDEX"), `{\n  "a.txt": "${VECTORS.dataA}",\n  "b.txt": "${VECTORS.dataB}"\n}\n`);
    writeFileSync(join(dir.path, "data.CHECKSUM"), `${VECTORS.dataIndex}\n`);
    expect((await prepareIn(dir.path, "ls data")).tfChecksum).toBe(VECTORS.tfLsData);
  });
  test("rule 1 rejects a dotted word that is not a file", async () => {
    using dir = tempDir();
    await expect(prepareIn(dir.path, "echo hello.world")).rejects.toThrow(/has an extension/);
    await expect(prepareIn(dir.path, "echo hello.world", { rules: { rule1: false, rule2: true } })).resolves.toBeDefined();
  });
  test("rule 2 rejects a later word without extension that is a file", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "hostname"), "x");
    await expect(prepareIn(dir.path, "cat hostname")).rejects.toThrow(/-g2/);
  });
  test("word substitution unquotes and normalizes paths", async () => {
    using dir = tempDir();
    makeSpecData(dir.path);
    const prepared = await prepareIn(dir.path, "cat './data/a.txt'");
    expect(prepared.code).toBe("(\ncat data/a.txt\n) > RESULT\n");
  });
  test("input redirects are inputs, not result targets (QUIRK fixed)", async () => {
    using dir = tempDir();
    makeSpecData(dir.path);
    const prepared = await prepareIn(dir.path, "sort < data/a.txt");
    expect(prepared.resultTargets).toBeNull();
    expect(prepared.dict["data/a.txt"]).toEqual(["bytes", null, VECTORS.dataA]);
  });
  test("--primary 2 analyses the second command and leaves the first alone (QUIRK fixed)", async () => {
    using dir = tempDir();
    makeSpecData(dir.path);
    const prepared = await prepareIn(dir.path, "cat ./data/a.txt; cat ./data/b.txt", { primary: 2 });
    expect(prepared.code).toBe("(\ncat ./data/a.txt; cat data/b.txt\n) > RESULT\n");
    expect(Object.keys(prepared.dict).filter((k) => !k.startsWith("__") && k !== "code")).toEqual(["data/b.txt"]);
    await expect(prepareIn(dir.path, "cat ./data/a.txt", { primary: 2 })).rejects.toThrow(/--primary 2 but only 1 command/);
  });

  test("an executable inside the working directory is a pin; one outside it is a system tool", async () => {
    using dir = tempDir();
    using elsewhere = tempDir();
    writeFileSync(join(dir.path, "x.sh"), "#!/bin/sh\necho x\n", { mode: 0o755 });
    const local = await prepareIn(dir.path, "./x.sh");
    expect(local.code).toBe("export PATH=./:$PATH\nchmod +x 'x.sh'\n(\nx.sh\n) > RESULT\n");
    expect(local.dict["x.sh"]).toBeDefined();
    writeFileSync(join(elsewhere.path, "tool"), "#!/bin/sh\necho t\n", { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${elsewhere.path}:${saved}`;
    try {
      const outside = await prepareIn(dir.path, "tool");
      expect(outside.code).toBe("(\ntool\n) > RESULT\n");
    } finally {
      process.env.PATH = saved;
    }
  });

  test("two definite redirects in the last command are an error", async () => {
    using dir = tempDir();
    await expect(prepareIn(dir.path, "echo a > x > y")).rejects.toThrow(/Multiple redirects/);
  });
});
