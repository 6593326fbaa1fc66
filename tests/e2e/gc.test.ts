/** End-to-end: `seamless stats`, `gc` and `forget` (issue 23 §3), also while other runs go on. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { VECTORS } from "../fixtures/spec-vectors.ts";
import { holdBufferLease } from "../../lib/gc/lease.ts";

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
const bufferPath = (cache: string, checksum: string) => join(cache, "__TOPLEVEL__", checksum.slice(0, 2), checksum);

/** Every cached result's buffer, and every member of a directory result, is present. */
function danglingResults(cache: string): string[] {
  const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { readonly: true });
  const rows = db.query(`SELECT checksum, result FROM "transformation"`).all() as { checksum: string; result: string }[];
  db.close();
  const dangling: string[] = [];
  for (const row of rows) {
    const path = bufferPath(cache, row.result);
    if (!existsSync(path)) {
      dangling.push(row.checksum);
      continue;
    }
    const text = Bun.file(path).size < 100_000 ? require("node:fs").readFileSync(path, "utf8") : "";
    if (text.startsWith("{")) for (const member of Object.values(JSON.parse(text)) as string[]) if (!existsSync(bufferPath(cache, member))) dangling.push(row.checksum);
  }
  return dangling;
}

describe("seamless stats", () => {
  test("counts buffers, results and runs, the hit rate and the time saved", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    const stats = JSON.parse((await runSeamless(["stats", "--json"], { cwd: dir.path, env })).stdout);
    // The transformation, its code and the result "hello\n".
    expect(stats.buffers).toEqual({ count: 3, bytes: expect.any(Number), estimated: false });
    expect([stats.results, stats.irreproducible_results, stats.runs.count, stats.runs.hit_rate]).toEqual([1, 0, 2, 0.5]);
    expect(stats.runs.saved_ms).toBe(stats.runs.executed_ms);
    const text = (await runSeamless(["stats"], { cwd: dir.path, env })).stdout;
    expect(text).toContain("runs:           2 (1 executed, 1 cache hit)\nhit rate:       50.0%\n");
  });
});

describe("seamless forget", () => {
  test("forget -- COMMAND drops the result: the next run executes", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    const forgot = await runSeamless(["forget", "--", "echo hello"], { cwd: dir.path, env });
    expect(forgot.stdout).toBe(`forgot result ${VECTORS.hello} of transformation ${VECTORS.tfEchoHello}\n`);
    expect((await runSeamless(["run", "-v", "echo hello"], { cwd: dir.path, env })).stderr).toContain("executed in");
  });

  test("forget RESULT drops every transformation with that result; an unknown checksum forgets nothing", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    const json = JSON.parse((await runSeamless(["forget", "--json", VECTORS.hello], { cwd: dir.path, env })).stdout);
    expect(json).toEqual([{ tf_checksum: VECTORS.tfEchoHello, result_checksum: VECTORS.hello }]);
    const none = await runSeamless(["forget", VECTORS.hello], { cwd: dir.path, env });
    expect([none.exitCode, none.stderr]).toEqual([0, "seamless forget: nothing cached to forget\n"]);
    expect((await runSeamless(["forget", "abc"], { cwd: dir.path, env })).exitCode).toBe(2);
  });
});

describe("seamless gc", () => {
  test("--dry-run lists the least recently used result and its buffers; gc removes them and no kept result dangles", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "a.txt"), "one two\n");
    await runSeamless(["run", "wc -w a.txt > count.txt"], { cwd: dir.path, env });
    await Bun.sleep(20);
    await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    const dry = JSON.parse((await runSeamless(["gc", "--dry-run", "--json", "--max-size", "1"], { cwd: dir.path, env })).stdout);
    expect(dry.results.length).toBe(2);
    expect(dry.results[1].tf_checksum).toBe(VECTORS.tfEchoHello); // used last, goes last
    expect(dry.buffers.map((buffer: { reason: string }) => buffer.reason.split(" of ")[0])).toEqual(["result", "member", "result"]);
    expect(existsSync(bufferPath(cache, VECTORS.hello))).toBe(true);
    const kept = sha256("one two\n");
    expect(existsSync(bufferPath(cache, kept))).toBe(true); // the input: not a result
    // Only the older result goes when the size allows the newer one.
    const bytesOfHello = dry.bytes_before - dry.buffers.slice(0, 2).reduce((sum: number, b: { bytes: number }) => sum + b.bytes, 0);
    const done = JSON.parse((await runSeamless(["gc", "--json", "--max-size", String(bytesOfHello)], { cwd: dir.path, env })).stdout);
    expect([done.removed_results, done.removed_buffers]).toEqual([1, 2]);
    expect(existsSync(bufferPath(cache, VECTORS.hello))).toBe(true);
    expect(existsSync(bufferPath(cache, kept))).toBe(true);
    expect(danglingResults(cache)).toEqual([]);
    const rerun = await runSeamless(["run", "-v", "wc -w a.txt > count.txt"], { cwd: dir.path, env });
    expect(rerun.stderr).toContain("executed in");
  });

  test("--older-than keeps what was used recently; no limit is a usage error", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    expect(JSON.parse((await runSeamless(["gc", "--json", "--older-than", "1d"], { cwd: dir.path, env })).stdout).removed_results).toBe(0);
    const bare = await runSeamless(["gc"], { cwd: dir.path, env });
    expect([bare.exitCode, bare.stderr.split("\n")[0]]).toEqual([2, "seamless gc: gc needs --max-size or --older-than (or both)"]);
    expect((await runSeamless(["gc", "--older-than", "soon"], { cwd: dir.path, env })).exitCode).toBe(2);
  });

  test("never removes a buffer that a running transformation or a lease needs", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    await runSeamless(["run", "echo data > mid.txt"], { cwd: dir.path, env });
    await runSeamless(["run", "echo leased > leased.txt"], { cwd: dir.path, env });
    const member = sha256("data\n");
    expect(existsSync(bufferPath(cache, member))).toBe(true);
    // The result's member is the input of a transformation that is running.
    const running = Bun.spawn([BINARY, "run", "cat mid.txt; sleep 5"], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" });
    const lease = holdBufferLease(cache, [sha256("leased\n")]);
    try {
      for (let i = 0; i < 400 && !require("node:fs").readdirSync(join(cache, "locks")).some((name: string) => name.endsWith(".lock")); i++) await Bun.sleep(50);
      const done = JSON.parse((await runSeamless(["gc", "--json", "--max-size", "1"], { cwd: dir.path, env })).stdout);
      expect(done.removed_results).toBe(2);
      expect(done.kept_for_others).toBe(2);
      expect(existsSync(bufferPath(cache, member))).toBe(true);
      expect(existsSync(bufferPath(cache, sha256("leased\n")))).toBe(true);
      expect(await running.exited).toBe(0);
      expect(await new Response(running.stdout).text()).toBe("data\n");
    } finally {
      lease.release();
    }
  }, 60_000);

  test("is safe while other seamless processes run: every run succeeds, no result points at a missing buffer", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const runs: Promise<number>[] = [];
    const failures: string[] = [];
    const spawnRun = async (command: string) => {
      const child = Bun.spawn([BINARY, "run", command], { cwd: dir.path, env, stdout: "ignore", stderr: "pipe" });
      const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
      if (code !== 0) failures.push(`${command}: exit ${code}: ${stderr}`);
      return code;
    };
    let stop = false;
    const collector = (async () => {
      let collections = 0;
      while (!stop) {
        const result = await runSeamless(["gc", "--max-size", "1"], { cwd: dir.path, env });
        expect(result.stderr).toBe("");
        collections++;
      }
      return collections;
    })();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 4; i++) runs.push(spawnRun(`echo value-${i} > out-${round}-${i}.txt`), spawnRun(`echo same-${i}`));
      await Promise.all(runs.slice(-8));
    }
    const codes = await Promise.all(runs);
    stop = true;
    expect(await collector).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    expect(codes.every((code) => code === 0)).toBe(true);
    expect(danglingResults(cache)).toEqual([]);
  }, 120_000);
});
