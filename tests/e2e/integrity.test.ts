/** End-to-end: the store never holds wrong bytes and no result is wrong without a word (issue 17). */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountSmallTmpfs, runSeamless, scrubbedEnv, storeIsSound, tempDir, tmpfsUnavailable } from "../helpers.ts";

const sha256 = (bytes: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
const bufferPath = (cache: string, checksum: string) => join(cache, "__TOPLEVEL__", checksum.slice(0, 2), checksum);
const cachedResults = (cache: string): number => {
  const path = join(cache, "__TOPLEVEL__", "seamless.db");
  if (!existsSync(path)) return 0;
  const db = new Database(path, { readonly: true });
  try {
    return (db.query(`SELECT count(*) AS n FROM "transformation"`).get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db.close();
  }
};

describe("a command cannot change the store through its inputs (item 1)", () => {
  test("sort -o data.txt data.txt leaves the stored buffer intact; a later run on the same bytes is right", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "data.txt"), "b\na\nc\n");
    const first = await runSeamless(["run", "sort -o data.txt data.txt; cat data.txt"], { cwd: dir.path, env });
    expect([first.exitCode, first.stdout]).toEqual([0, "a\nb\nc\n"]);
    expect(readFileSync(bufferPath(cache, sha256("b\na\nc\n")), "utf8")).toBe("b\na\nc\n");
    writeFileSync(join(dir.path, "copy.txt"), "b\na\nc\n");
    const second = await runSeamless(["run", "cat copy.txt"], { cwd: dir.path, env });
    expect([second.exitCode, second.stdout]).toEqual([0, "b\na\nc\n"]);
    expect(storeIsSound(join(cache, "__TOPLEVEL__")).bad).toEqual([]);
  });

  test("dd conv=notrunc on an input and on its $VARIABLE path changes no stored buffer", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "in.txt"), "clean\n");
    writeFileSync(join(dir.path, "data"), "clean\n");
    const run = await runSeamless(["run", "-g1", "-i", "data", "-i", "in.txt", 'printf EVIL | dd of=in.txt conv=notrunc 2>/dev/null; printf EVIL | dd of="$data" conv=notrunc 2>/dev/null; cat in.txt "$data"'], { cwd: dir.path, env });
    expect([run.exitCode, run.stdout]).toEqual([0, "EVILn\nEVILn\n"]);
    expect(readFileSync(bufferPath(cache, sha256("clean\n")), "utf8")).toBe("clean\n");
    const again = await runSeamless(["run", "cat in.txt"], { cwd: dir.path, env });
    expect([again.exitCode, again.stdout]).toEqual([0, "clean\n"]);
    expect(storeIsSound(join(cache, "__TOPLEVEL__")).bad).toEqual([]);
  });

  test("a stored input corrupted on disk is dropped and stored again from the user's file", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "f.txt"), "precious\n");
    expect((await runSeamless(["upload", "f.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    const stored = bufferPath(cache, sha256("precious\n"));
    chmodSync(stored, 0o600);
    writeFileSync(stored, "EVILious\n");
    const run = await runSeamless(["run", "cat f.txt"], { cwd: dir.path, env });
    expect([run.exitCode, run.stdout]).toEqual([0, "precious\n"]);
    expect(run.stderr).toContain(`Buffer "${sha256("precious\n")}" is corrupt`);
    expect(readFileSync(stored, "utf8")).toBe("precious\n");
  });

  test("a corrupt cached result is never a hit: it is dropped and computed again", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    expect((await runSeamless(["run", "echo hi"], { cwd: dir.path, env })).stdout).toBe("hi\n");
    const stored = bufferPath(cache, sha256("hi\n"));
    chmodSync(stored, 0o600);
    writeFileSync(stored, "ho\n");
    const again = await runSeamless(["run", "echo hi"], { cwd: dir.path, env });
    expect([again.exitCode, again.stdout]).toEqual([0, "hi\n"]);
    expect(readFileSync(stored, "utf8")).toBe("hi\n");
  });
});

describe("a full disk stores nothing half (item 2)", () => {
  const reason = tmpfsUnavailable();
  test.skipIf(reason !== "")("upload and run into a 10 MiB tmpfs cache: one clear line, exit 1, nothing stored or cached", async () => {
    const small = mountSmallTmpfs(10);
    if ("reason" in small) throw new Error(small.reason);
    using _ = small;
    using dir = tempDir();
    const cache = join(small.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "one.bin"), new Uint8Array(12_000_000).fill(1));
    const upload = await runSeamless(["upload", "one.bin"], { cwd: dir.path, env });
    expect(upload.exitCode).toBe(1);
    expect(upload.stderr).toMatch(/^seamless upload: No space left on device: cannot write ".*__TOPLEVEL__\/..\/[0-9a-f]{64}"$/m);
    expect(existsSync(join(dir.path, "one.bin.CHECKSUM"))).toBe(false);
    const run = await runSeamless(["run", "yes abcdefghij | head -c 12000000 > big.bin"], { cwd: dir.path, env });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain("No space left on device: cannot write");
    expect(existsSync(join(dir.path, "big.bin.CHECKSUM"))).toBe(false);
    expect(cachedResults(cache)).toBe(0);
    expect(storeIsSound(join(cache, "__TOPLEVEL__")).bad).toEqual([]);
    expect(readdirSync(join(cache, "__TOPLEVEL__"), { recursive: true }).filter((name) => String(name).endsWith(".tmp"))).toEqual([]);
  });
});

describe("sidecars that disagree with what is beside them", () => {
  test("a stale DIR.CHECKSUM is an error naming the directory and how to refresh it", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "d"));
    writeFileSync(join(dir.path, "d/a"), "1\n");
    expect((await runSeamless(["upload", "d"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect((await runSeamless(["run", "ls d"], { cwd: dir.path, env })).stdout).toBe("a\n");
    writeFileSync(join(dir.path, "d/b"), "2\n");
    const stale = await runSeamless(["run", "ls d"], { cwd: dir.path, env });
    expect(stale.exitCode).toBe(1);
    expect(stale.stdout).toBe("");
    expect(stale.stderr).toContain(`Argument 'd' exists as directory and .CHECKSUM file, but the checksums are not the same: the directory "d" changed after "d.CHECKSUM" was written`);
    expect(stale.stderr).toContain('hint: to use what is on disk, refresh the sidecar with "seamless upload d"');
    expect((await runSeamless(["upload", "d"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect((await runSeamless(["run", "ls d"], { cwd: dir.path, env })).stdout).toBe("a\nb\n");
  });

  test("a stale file .CHECKSUM keeps Python's message and says which changed", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "f.txt"), "one\n");
    expect((await runSeamless(["upload", "f.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    writeFileSync(join(dir.path, "f.txt"), "two\n");
    const stale = await runSeamless(["run", "cat f.txt"], { cwd: dir.path, env });
    expect(stale.exitCode).toBe(1);
    expect(stale.stderr).toContain(`Argument #2 'f.txt' exists as file and .CHECKSUM file, but the checksums are not the same: the file "f.txt" changed after "f.txt.CHECKSUM" was written`);
  });

  test("a .CHECKSUM argument whose buffer left the store is stored again from the matching file", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "f.txt"), "kept\n");
    mkdirSync(join(dir.path, "d"));
    writeFileSync(join(dir.path, "d/a"), "member\n");
    expect((await runSeamless(["upload", "f.txt", "d"], { cwd: dir.path, env })).exitCode).toBe(0);
    for (const name of readdirSync(join(cache, "__TOPLEVEL__"))) if (name.length === 2) rmSync(join(cache, "__TOPLEVEL__", name), { recursive: true });
    const file = await runSeamless(["run", "cat f.txt"], { cwd: dir.path, env });
    expect([file.exitCode, file.stdout, file.stderr]).toEqual([0, "kept\n", ""]);
    const directory = await runSeamless(["run", "ls d; cat d/a"], { cwd: dir.path, env });
    expect([directory.exitCode, directory.stdout]).toEqual([0, "a\nmember\n"]);
    expect(existsSync(bufferPath(cache, sha256("member\n")))).toBe(true);
  });
});

describe("large inputs are links into the store, checked around the run (item 1)", () => {
  test("a command that writes through its linked input fails with one line; the buffer is dropped, nothing cached, the next run is right", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const big = new Uint8Array(33 * 1024 * 1024).fill(65); // above LINK_MIN_BYTES
    writeFileSync(join(dir.path, "big.bin"), big);
    const tampering = await runSeamless(["run", "-g1", "-i", "big.bin", "printf EVIL | dd of=big.bin conv=notrunc 2>/dev/null; echo done"], { cwd: dir.path, env });
    expect(tampering.exitCode).toBe(1);
    expect(tampering.stdout).toBe("");
    expect(tampering.stderr.trim().split("\n")).toEqual([
      `seamless run: The command changed its input "big.bin", a link to buffer "${sha256(big)}" in the store; the buffer has been removed from the store, and nothing was cached`,
    ]);
    expect(cachedResults(cache)).toBe(0);
    expect(storeIsSound(join(cache, "__TOPLEVEL__")).bad).toEqual([]);
    const honest = await runSeamless(["run", "head -c 4 big.bin"], { cwd: dir.path, env });
    expect([honest.exitCode, honest.stdout]).toEqual([0, "AAAA"]);
    expect(storeIsSound(join(cache, "__TOPLEVEL__")).bad).toEqual([]);
   }, 60_000);
});

describe("what upload stores, download restores (item 3)", () => {
  test("a name with a backslash survives upload --move and download", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "m"));
    writeFileSync(join(dir.path, "m/q1\\q2.txt"), "precious\n");
    const upload = await runSeamless(["upload", "--move", "m"], { cwd: dir.path, env });
    expect(upload.exitCode).toBe(0);
    expect(existsSync(join(dir.path, "m"))).toBe(false);
    expect(readFileSync(join(dir.path, "m.INDEX"), "utf8")).toContain('"q1\\\\q2.txt"');
    const download = await runSeamless(["download", "m"], { cwd: dir.path, env });
    expect([download.exitCode, download.stderr]).toEqual([0, ""]);
    expect(readFileSync(join(dir.path, "m/q1\\q2.txt"), "utf8")).toBe("precious\n");
  });

  test("upload --move refuses names an index cannot give back, before storing or moving anything", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    mkdirSync(join(dir.path, "m"));
    writeFileSync(join(dir.path, "m/a.txt"), "plain\n");
    writeFileSync(join(dir.path, "m/a.txt.gz"), Bun.gzipSync(Buffer.from("other\n")));
    writeFileSync(join(dir.path, "keep.txt"), "kept\n");
    const upload = await runSeamless(["upload", "--move", "keep.txt", "m"], { cwd: dir.path, env });
    expect(upload.exitCode).toBe(1);
    expect(upload.stderr).toContain('would both be stored as "a.txt"');
    expect(readdirSync(join(dir.path, "m")).sort()).toEqual(["a.txt", "a.txt.gz"]);
    expect(existsSync(join(dir.path, "keep.txt"))).toBe(true);
    expect(existsSync(join(dir.path, "m.INDEX")) || existsSync(join(dir.path, "keep.txt.CHECKSUM"))).toBe(false);
  });
});

describe("a result directory holds exactly the result", () => {
  test("files of the previous result that are gone from the new one are removed; other files are named in a warning", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    // `&& true`: a redirect on the last command of the list would be a result target too (cli-spec §3.11).
    const first = await runSeamless(["run", "-cp", "outdir", "mkdir -p outdir/s1 outdir/s2 && echo 1 > outdir/s1/r && echo 2 > outdir/s2/r && true"], { cwd: dir.path, env });
    expect(first.exitCode).toBe(0);
    writeFileSync(join(dir.path, "outdir/notes.txt"), "mine\n");
    const second = await runSeamless(["run", "-cp", "outdir", "mkdir -p outdir/s1 && echo 1 > outdir/s1/r && true"], { cwd: dir.path, env });
    expect(second.exitCode).toBe(0);
    expect(readdirSync(join(dir.path, "outdir"), { recursive: true }).map(String).sort()).toEqual(["notes.txt", "s1", "s1/r"]);
    expect(readFileSync(join(dir.path, "outdir/notes.txt"), "utf8")).toBe("mine\n");
    expect(second.stderr).toContain('Warning: result directory "outdir" holds 1 files that are not part of the result: notes.txt');
  });
});

describe("clear errors (items 12, 13)", () => {
  test("a result target outside the working directory is refused up front, naming it", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "work"));
    writeFileSync(join(dir.path, "work/in.txt"), "x\n");
    const cwd = join(dir.path, "work");
    const outside = await runSeamless(["run", `cat in.txt > ${join(dir.path, "elsewhere/x.txt")}`], { cwd, env });
    expect([outside.exitCode, outside.stderr.split("\n")[0]]).toEqual([1, `seamless run: Result target "${join(dir.path, "elsewhere/x.txt")}" is outside the working directory: results can only be written inside it`]);
    const up = await runSeamless(["run", "cat in.txt > ../x.txt"], { cwd, env });
    expect([up.exitCode, up.stderr.split("\n")[0]]).toEqual([1, 'seamless run: Result target "../x.txt" is outside the working directory: results can only be written inside it']);
    expect(readdirSync(cwd)).toEqual(["in.txt"]);
    expect(existsSync(join(dir.path, "x.txt"))).toBe(false);
    // An absolute target inside the working directory becomes relative (issue 18 bug 4, cli-spec §3.11).
    const absoluteInside = await runSeamless(["run", `cat in.txt > ${join(cwd, "y.txt")}`], { cwd, env });
    expect([absoluteInside.exitCode, readFileSync(join(cwd, "y.txt"), "utf8")]).toEqual([0, "x\n"]);
  });

  test("a NUL in an index key gets its own message", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "m.INDEX"), `{"a\\u0000b": "${sha256("x")}"}\n`);
    const result = await runSeamless(["download", "m"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("a NUL character cannot be part of a file name");
  });
});

describe("a read-only cache serves reads (item 11)", () => {
  const reason = tmpfsUnavailable();
  test.skipIf(reason !== "")("checksum needs no cache, a cached run is answered, writes fail with one clear line", async () => {
    const mount = mountSmallTmpfs(10);
    if ("reason" in mount) throw new Error(mount.reason);
    using _ = mount;
    using dir = tempDir();
    const cache = join(mount.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "f.txt"), "hello\n");
    expect((await runSeamless(["run", "cat f.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect((await runSeamless(["run", "cat f.txt > out.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect(Bun.spawnSync(["mount", "-o", "remount,ro", mount.path]).exitCode).toBe(0);
    const checksum = await runSeamless(["checksum", "f.txt"], { cwd: dir.path, env });
    expect([checksum.exitCode, checksum.stdout, checksum.stderr]).toEqual([0, `${sha256("hello\n")}  f.txt\n`, ""]);
    const hit = await runSeamless(["run", "cat f.txt"], { cwd: dir.path, env });
    expect([hit.exitCode, hit.stdout, hit.stderr]).toEqual([0, "hello\n", ""]);
    rmSync(join(dir.path, "out.txt"));
    const target = await runSeamless(["run", "cat f.txt > out.txt"], { cwd: dir.path, env });
    expect([target.exitCode, target.stderr]).toEqual([0, ""]);
    expect(readFileSync(join(dir.path, "out.txt"), "utf8")).toBe("hello\n");
    const miss = await runSeamless(["run", "echo new"], { cwd: dir.path, env });
    expect(miss.exitCode).toBe(1);
    expect(miss.stderr).toMatch(/^seamless run: Read-only file system: cannot write ".*__TOPLEVEL__.*"\n$/);
  });
});

describe("a large captured stdout is streamed (item 14)", () => {
  /** Runs the binary and samples its peak resident memory (VmHWM) while it runs. */
  async function runMeasured(args: string[], cwd: string, env: Record<string, string>): Promise<{ exitCode: number; stdoutBytes: number; tail: string; head: string; peakKb: number }> {
    const { BINARY } = await import("../helpers.ts");
    const child = Bun.spawn([BINARY, ...args], { cwd, env, stdout: "pipe", stderr: "inherit" });
    let peakKb = 0;
    const sampler = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (match) peakKb = Math.max(peakKb, Number(match[1]));
      } catch {}
    }, 10);
    let stdoutBytes = 0;
    let head = "";
    let tail = "";
    for await (const chunk of child.stdout) {
      if (head.length < 10) head += Buffer.from(chunk).toString("latin1").slice(0, 10);
      stdoutBytes += chunk.byteLength;
      tail = (tail + Buffer.from(chunk).toString("latin1")).slice(-10);
    }
    const exitCode = await child.exited;
    clearInterval(sampler);
    return { exitCode, stdoutBytes, tail, head, peakKb };
  }

  test("a 200 MB stdout result is stored and printed with bounded memory, run and hit alike", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const command = "printf '\\n\\n'; yes abcdefghijklmnopqrstuvwxyz | head -c 200000000; printf '\\n\\n\\n'";
    for (const round of ["run", "hit"]) {
      const result = await runMeasured(["run", command], dir.path, env);
      expect([round, result.exitCode, result.stdoutBytes, result.head.slice(0, 4), result.tail.slice(-4)]).toEqual([round, 0, 200_000_001, "abcd", "ijk\n"]);
      expect(result.peakKb).toBeGreaterThan(0);
      expect(result.peakKb).toBeLessThan(150 * 1024);
    }
  }, 120_000);
});

describe("a short stored buffer is repaired (item 2)", () => {
  test("a re-upload replaces a truncated buffer, and a run is right", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const bytes = new Uint8Array(100_000).fill(5);
    writeFileSync(join(dir.path, "one.bin"), bytes);
    expect((await runSeamless(["upload", "one.bin"], { cwd: dir.path, env })).exitCode).toBe(0);
    const stored = bufferPath(cache, sha256(bytes));
    chmodSync(stored, 0o600);
    writeFileSync(stored, bytes.subarray(0, 60_000)); // as an older build left it on a full disk
    expect((await runSeamless(["upload", "one.bin"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect(readFileSync(stored).byteLength).toBe(100_000);
    writeFileSync(stored, bytes.subarray(0, 60_000));
    const run = await runSeamless(["run", "wc -c one.bin"], { cwd: dir.path, env });
    expect([run.exitCode, run.stdout]).toEqual([0, "100000 one.bin\n"]);
    expect(storeIsSound(join(cache, "__TOPLEVEL__")).bad).toEqual([]);
  });
});
