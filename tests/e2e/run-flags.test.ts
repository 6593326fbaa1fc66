/** End-to-end: the `seamless run` flags beyond the basics, and transfer options. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { VECTORS } from "../fixtures/spec-vectors.ts";

function project(dir: string): Record<string, string> {
  mkdirSync(join(dir, "data/sub"), { recursive: true });
  writeFileSync(join(dir, "data/a.txt"), "apples\npears\noranges\n");
  writeFileSync(join(dir, "data/sub/b.txt"), "5\n12\n");
  return scrubbedEnv(join(dir, "cache"));
}

describe("seamless run flags", () => {
  test("-ms maps files to their base names, -mx to file1, file2… (visible in the generated code)", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    await runSeamless(["run", "--dry", "-j", "strip", "-ms", "paste data/a.txt data/sub/b.txt"], { cwd: dir.path, env });
    expect(readFileSync(join(dir.path, "strip/command.txt"), "utf8")).toBe("(\npaste a.txt b.txt\n) > RESULT\n");
    await runSeamless(["run", "--dry", "-j", "ext", "-mx", "paste data/a.txt data/sub/b.txt"], { cwd: dir.path, env });
    expect(readFileSync(join(dir.path, "ext/command.txt"), "utf8")).toBe("(\npaste file1.txt file2.txt\n) > RESULT\n");
    const run = await runSeamless(["run", "-ms", "paste data/a.txt data/sub/b.txt"], { cwd: dir.path, env });
    expect(run.stdout).toBe("apples\t5\npears\t12\noranges\t\n");
  });

  test("-- ends the options: what follows is the command, even when it looks like a flag", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    const run = await runSeamless(["run", "--", "echo", "-n", "hello"], { cwd: dir.path, env });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("hello");
    const unquoted = await runSeamless(["run", "-c", "--", "wc -l data/a.txt"], { cwd: dir.path, env });
    expect(unquoted.stdout).toBe("3 data/a.txt\n");
  });

  test("-i and -I add inputs the command does not name", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    const withInput = await runSeamless(["run", "-g1", "-i", "data/a.txt", "cat data/*.txt"], { cwd: dir.path, env });
    expect(withInput.stdout).toBe("apples\npears\noranges\n");
    writeFileSync(join(dir.path, "inputs.lst"), "data/sub/b.txt\n\n");
    const withList = await runSeamless(["run", "-I", "inputs.lst", "cat data/sub/*"], { cwd: dir.path, env });
    expect(withList.stdout).toBe("5\n12\n");
    const missing = await runSeamless(["run", "-i", "nope.txt", "true"], { cwd: dir.path, env });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("input argument 'nope.txt': file/directory does not exist");
  });

  test("--var and --metavar reach the command as variables; --prologue is prepended", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    const result = await runSeamless(["run", "--var", "N=3", "--metavar", "THREADS=2", "--prologue", "X=7", "echo $N $THREADS $X"], { cwd: dir.path, env });
    expect([result.exitCode, result.stdout]).toEqual([0, "3 2 7\n"]);
    const bad = await runSeamless(["run", "--var", "1N=3", "true"], { cwd: dir.path, env });
    expect(bad.exitCode).toBe(2);
  });

  test("--metafile is materialized but outside the identity", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    const a = await runSeamless(["run", "--dry", "-j", "j1", "--metafile", "data/a.txt", "echo hello"], { cwd: dir.path, env });
    expect(a.stdout).toBe(`${VECTORS.tfEchoHello}\n`);
    const run = await runSeamless(["run", "--metafile", "data/a.txt", "-g1", "head -1 data/a.txt"], { cwd: dir.path, env });
    expect(run.stdout).toBe("apples\n");
  });

  test("-cp :local captures stdout into a file; -nd writes only the sidecar", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    const captured = await runSeamless(["run", "-cp", ":out.txt", "echo captured"], { cwd: dir.path, env });
    expect(captured.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "out.txt"), "utf8")).toBe("captured\n");
    const noDownload = await runSeamless(["run", "-nd", "echo nd > nd.txt"], { cwd: dir.path, env });
    expect(noDownload.exitCode).toBe(0);
    expect(existsSync(join(dir.path, "nd.txt"))).toBe(false);
    expect(readFileSync(join(dir.path, "nd.txt.CHECKSUM"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
  });

  test("--scratch without targets refuses to print; with a target it writes the sidecar only", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    const refused = await runSeamless(["run", "--scratch", "echo x"], { cwd: dir.path, env });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("Refuse to print output to screen");
  });

  test("an existing result file with other content is replaced atomically (documented decision)", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    writeFileSync(join(dir.path, "out.txt"), "stale\n");
    await runSeamless(["run", "echo fresh > out.txt"], { cwd: dir.path, env });
    expect(readFileSync(join(dir.path, "out.txt"), "utf8")).toBe("fresh\n");
  });

  test("a workspace pin named with .. is refused by run-transformation", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    // A hand-made transformation whose pin escapes the workspace.
    const code = "(\ncat x\n) > RESULT\n";
    await runSeamless(["upload", "data/a.txt"], { cwd: dir.path, env });
    writeFileSync(join(dir.path, "code.txt"), code);
    await runSeamless(["upload", "code.txt"], { cwd: dir.path, env });
    const codeChecksum = readFileSync(join(dir.path, "code.txt.CHECKSUM"), "utf8").trim();
    const aChecksum = readFileSync(join(dir.path, "data/a.txt.CHECKSUM"), "utf8").trim();
    const tf = `{\n  "../evil": [\n    "bytes",\n    null,\n    "${aChecksum}"\n  ],\n  "__language__": "bash",\n  "__output__": [\n    "result",\n    "bytes",\n    null\n  ],\n  "code": [\n    "text",\n    null,\n    "${codeChecksum}"\n  ]\n}\n`;
    writeFileSync(join(dir.path, "tf.json"), tf);
    await runSeamless(["upload", "tf.json"], { cwd: dir.path, env });
    mkdirSync(join(dir.path, "tmp"));
    const result = await runSeamless(["run-transformation", "tf.json.CHECKSUM"], { cwd: dir.path, env: { ...env, TMPDIR: join(dir.path, "tmp") } });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Pin ../evil: absolute paths, . and .. are not allowed");
    expect(readdirSync(join(dir.path, "tmp"))).toEqual([]); // no workspace left behind
  });
});

describe("transfer options", () => {
  test("upload --destination writes a flat read-only buffer directory; download --destination reads it", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    mkdirSync(join(dir.path, "bufdir"));
    expect((await runSeamless(["upload", "--destination", "bufdir", "data/a.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    const checksum = readFileSync(join(dir.path, "data/a.txt.CHECKSUM"), "utf8").trim();
    expect(statSync(join(dir.path, "bufdir", checksum)).mode & 0o777).toBe(0o444);
    const out = await runSeamless(["download", "--destination", "bufdir", checksum, "-o", "copy.txt"], { cwd: dir.path, env });
    expect(out.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "copy.txt"), "utf8")).toBe("apples\npears\noranges\n");
  });

  test(".gz inputs are hashed decompressed and their sidecar drops the suffix", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    writeFileSync(join(dir.path, "h.txt.gz"), gzipSync("hello\n"));
    await runSeamless(["upload", "h.txt.gz"], { cwd: dir.path, env });
    expect(readFileSync(join(dir.path, "h.txt.CHECKSUM"), "utf8")).toBe(`${VECTORS.hello}\n`);
    const down = await runSeamless(["download", "--compression", "gz", "-o", "again.txt", VECTORS.hello], { cwd: dir.path, env });
    expect(down.exitCode).toBe(0);
    expect(existsSync(join(dir.path, "again.txt.gz"))).toBe(true);
  });

  test("a .gz input reaches the command compressed, and its identity is the decompressed checksum", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    writeFileSync(join(dir.path, "h.txt.gz"), gzipSync("hello\n"));
    const dry = await runSeamless(["run", "--dry", "-j", "job", "zcat h.txt.gz"], { cwd: dir.path, env });
    expect(readFileSync(join(dir.path, "job/transformation.json"), "utf8")).toContain(`"h.txt.gz": [\n    "bytes",\n    null,\n    "${VECTORS.hello}"`);
    expect(dry.exitCode).toBe(0);
    const result = await runSeamless(["run", "zcat h.txt.gz"], { cwd: dir.path, env });
    expect([result.exitCode, result.stdout]).toEqual([0, "hello\n"]);
  });

  test("download --index writes member sidecars instead of files", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    await runSeamless(["upload", "data"], { cwd: dir.path, env });
    await Bun.$`rm -rf ${join(dir.path, "data")}`;
    const result = await runSeamless(["download", "--index", "data"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(0);
    expect(existsSync(join(dir.path, "data/a.txt.CHECKSUM"))).toBe(true);
    expect(existsSync(join(dir.path, "data/a.txt"))).toBe(false);
  });

  test("download -n skips targets above SEAMLESS_MAX_DOWNLOAD_FILES; -y takes them", async () => {
    using dir = tempDir();
    const env = { ...project(dir.path), SEAMLESS_MAX_DOWNLOAD_FILES: "1" };
    await runSeamless(["upload", "data"], { cwd: dir.path, env });
    await Bun.$`rm -rf ${join(dir.path, "data")}`;
    const skipped = await runSeamless(["download", "-n", "data"], { cwd: dir.path, env });
    expect(skipped.exitCode).toBe(0);
    expect(skipped.stderr).toContain("Skip download of 'data', 2 files, 26.00 B");
    expect(existsSync(join(dir.path, "data/a.txt"))).toBe(false);
    expect((await runSeamless(["download", "-y", "data"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "data/a.txt"), "utf8")).toBe("apples\npears\noranges\n");
  });

  test("a directory with unlisted files is refused unless --dest-rm", async () => {
    using dir = tempDir();
    const env = project(dir.path);
    await runSeamless(["upload", "data"], { cwd: dir.path, env });
    writeFileSync(join(dir.path, "data/extra.txt"), "x");
    const refused = await runSeamless(["download", "data"], { cwd: dir.path, env });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("contains 1 unlisted entries");
    expect((await runSeamless(["download", "--dest-rm", "data"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect(existsSync(join(dir.path, "data/extra.txt"))).toBe(false);
  });
});
