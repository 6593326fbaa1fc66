/** End-to-end: `seamless run` and `seamless run-transformation` through the compiled binary. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { SIMPLE_COMMAND, VECTORS } from "../fixtures/spec-vectors.ts";

function specProject(dir: string): void {
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "data/a.txt.CHECKSUM"), `${VECTORS.dataA}\n`);
  writeFileSync(join(dir, "data/b.txt.CHECKSUM"), `${VECTORS.dataB}\n`);
}

describe("seamless run --dry -j (cli-spec §2.3, §3.14)", () => {
  const cases: [string, string[], string][] = [
    ["echo hello", ["echo hello"], VECTORS.tfEchoHello],
    ["simple.sh", [SIMPLE_COMMAND], VECTORS.tfSimple],
    ["head -3 > out.txt", ["head -3 data/a.txt > out.txt"], VECTORS.tfHead],
    ["--var N=3", ["--var", "N=3", "echo hello"], VECTORS.tfVarN3],
  ];
  for (const [name, args, expected] of cases) {
    test(`${name} prints ${expected.slice(0, 8)}… and writes the job directory`, async () => {
      using dir = tempDir();
      specProject(dir.path);
      const env = scrubbedEnv(join(dir.path, "cache"));
      const result = await runSeamless(["run", "--dry", "-j", "job", ...args], { cwd: dir.path, env });
      expect(result.stderr).toBe("");
      expect(result.stdout).toBe(`${expected}\n`);
      const tf = readFileSync(join(dir.path, "job/transformation.json"));
      expect(new Bun.CryptoHasher("sha256").update(tf).digest("hex")).toBe(expected);
      expect(existsSync(join(dir.path, "job/command.txt"))).toBe(true);
      expect(existsSync(join(dir.path, "job/dunder.json"))).toBe(false);
    });
  }
  test("ls data with the spec's directory index", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "data.INDEX"), `{\n  "a.txt": "${VECTORS.dataA}",\n  "b.txt": "${VECTORS.dataB}"\n}\n`);
    writeFileSync(join(dir.path, "data.CHECKSUM"), `${VECTORS.dataIndex}\n`);
    const result = await runSeamless(["run", "--dry", "-j", "job", "ls data"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect(result.stdout).toBe(`${VECTORS.tfLsData}\n`);
  });
  test("--direct-print writes dunder.json and leaves the identity alone", async () => {
    using dir = tempDir();
    const result = await runSeamless(["run", "--dry", "-j", "job", "--direct-print", "echo hello"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect(result.stdout).toBe(`${VECTORS.tfEchoHello}\n`);
    expect(readFileSync(join(dir.path, "job/dunder.json"), "utf8")).toBe('{\n  "__meta__": {\n    "__direct_print__": true\n  }\n}\n');
  });
  test("an existing -j directory is refused; -j without --dry is a usage error", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "job"));
    expect((await runSeamless(["run", "--dry", "-j", "job", "echo hello"], { cwd: dir.path, env })).exitCode).toBe(1);
    expect((await runSeamless(["run", "-j", "job2", "echo hello"], { cwd: dir.path, env })).exitCode).toBe(2);
  });
  test("server-only flags say they are not available yet", async () => {
    using dir = tempDir();
    const result = await runSeamless(["run", "--stage", "s", "echo hello"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("--stage is not available yet");
  });
  test("rule 1 failure is exit 1 with the spec's explanation", async () => {
    using dir = tempDir();
    const result = await runSeamless(["run", "echo hello.world"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Argument #2 'hello.world' has an extension.");
  });
});

describe("seamless run (execution and cache)", () => {
  test("echo hello runs, caches the spec's result, and is answered from cache", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const first = await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    expect([first.exitCode, first.stdout]).toEqual([0, "hello\n"]);
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { readonly: true });
    expect(db.query(`SELECT result FROM "transformation" WHERE checksum = ?`).get(VECTORS.tfEchoHello)).toEqual({ result: VECTORS.hello });
    expect(db.query(`SELECT checksum FROM "rev_transformation" WHERE result = ?`).all(VECTORS.hello)).toEqual([{ checksum: VECTORS.tfEchoHello }]);
    const record = JSON.parse((db.query(`SELECT metadata FROM "meta_data" WHERE checksum = ?`).get(VECTORS.tfEchoHello) as { metadata: string }).metadata);
    expect(record).toMatchObject({ schema_version: 1, tf_checksum: VECTORS.tfEchoHello, result_checksum: VECTORS.hello, execution_mode: "process" });
    expect(typeof record.wall_time_seconds).toBe("number");
    db.close();
  });

  test("a second identical run does not execute: the nanosecond clock comes back unchanged", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const first = await runSeamless(["run", "date +%s%N"], { cwd: dir.path, env });
    const second = await runSeamless(["run", "date +%s%N"], { cwd: dir.path, env });
    expect(first.stdout).toMatch(/^\d+\n$/);
    expect(second.stdout).toBe(first.stdout);
  });

  test("a cache written by Python Seamless (its schema, its layout) is answered from", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    mkdirSync(join(cache, "__TOPLEVEL__", "ab"), { recursive: true });
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { create: true });
    db.exec(readFileSync(join(import.meta.dir, "../fixtures/python-schema.sql"), "utf8"));
    const answer = "from the python cache\n";
    const answerChecksum = new Bun.CryptoHasher("sha256").update(answer).digest("hex");
    db.query(`INSERT INTO "transformation" VALUES (?, ?)`).run(VECTORS.tfEchoHello, answerChecksum);
    db.close();
    mkdirSync(join(cache, "__TOPLEVEL__", answerChecksum.slice(0, 2)), { recursive: true });
    writeFileSync(join(cache, "__TOPLEVEL__", answerChecksum.slice(0, 2), answerChecksum), answer);
    writeFileSync(join(cache, "__TOPLEVEL__", ".HASHSERVER_PREFIX"), "1\n");
    const result = await runSeamless(["run", "echo hello"], { cwd: dir.path, env: scrubbedEnv(cache) });
    expect(result.stdout).toBe(answer);
  });

  test("a Python cache entry whose result is a trivial buffer (never stored) is a hit", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    mkdirSync(join(cache, "__TOPLEVEL__"), { recursive: true });
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { create: true });
    db.exec(readFileSync(join(import.meta.dir, "../fixtures/python-schema.sql"), "utf8"));
    db.query(`INSERT INTO "transformation" VALUES (?, ?)`).run(VECTORS.tfEchoHello, VECTORS.nullNewline);
    db.close();
    const result = await runSeamless(["run", "echo hello"], { cwd: dir.path, env: scrubbedEnv(cache) });
    expect([result.exitCode, result.stdout]).toEqual([0, "null\n"]);
  });

  test("pipelines with input files, and result targets with sidecars", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "data"));
    writeFileSync(join(dir.path, "data/a.txt"), "apples\npears\noranges\npineapples\n");
    writeFileSync(join(dir.path, "data/b.txt"), "5\n12\n3\n20\n");
    const pipeline = await runSeamless(["run", SIMPLE_COMMAND], { cwd: dir.path, env });
    expect(pipeline.stdout).toBe("pears\npineapples\n");
    const head = await runSeamless(["run", "head -3 data/a.txt > out.txt"], { cwd: dir.path, env });
    expect([head.exitCode, head.stdout]).toEqual([0, ""]);
    expect(readFileSync(join(dir.path, "out.txt"), "utf8")).toBe("apples\npears\noranges\n");
    expect(readFileSync(join(dir.path, "out.txt.CHECKSUM"), "utf8")).toBe(`${VECTORS.headOut}\n`);
    expect(existsSync(join(dir.path, "out.txt.FUTURE"))).toBe(false);
    // The sidecar feeds the next command of a pipeline.
    const next = await runSeamless(["run", "wc -l out.txt"], { cwd: dir.path, env });
    expect(next.stdout).toBe("3 out.txt\n");
  });

  test("a directory result target gets .INDEX, .CHECKSUM and its files", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const result = await runSeamless(["run", "-cp", "outdir", "mkdir -p outdir/sub && echo hello > outdir/sub/x"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "outdir/sub/x"), "utf8")).toBe("hello\n");
    expect(readFileSync(join(dir.path, "outdir.INDEX"), "utf8")).toBe(`{\n  "sub/x": "${VECTORS.hello}"\n}\n`);
    // Its checksum names a stored buffer: the directory can be downloaded from the checksum alone.
    const checksum = readFileSync(join(dir.path, "outdir.CHECKSUM"), "utf8").trim();
    const copy = await runSeamless(["download", "--directory", checksum, "-o", "copy"], { cwd: dir.path, env });
    expect(copy.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "copy/sub/x"), "utf8")).toBe("hello\n");
  });

  test("a failing command exits 1 with the return code, and nothing is cached", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const command = 'test -n "${OK_FLAG:-}" && echo ok';
    const failed = await runSeamless(["run", command], { cwd: dir.path, env });
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain("Error: Return code 1");
    const passed = await runSeamless(["run", command], { cwd: dir.path, env: { ...env, OK_FLAG: "1" } });
    expect([passed.exitCode, passed.stdout]).toEqual([0, "ok\n"]);
  });

  test("missing RESULT and empty RESULT directory are failures", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const empty = await runSeamless(["run", "-cp", "nothing", "true"], { cwd: dir.path, env });
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toMatch(/Result (file\/folder RESULT does not exist|folder RESULT is empty)|cannot stat/);
  });

  test("Ctrl-C kills the process group, prints Canceled, exits 130, leaves no workspace", async () => {
    using dir = tempDir();
    const tmp = join(dir.path, "tmp");
    mkdirSync(tmp);
    const env = scrubbedEnv(join(dir.path, "cache"), { TMPDIR: tmp });
    const child = Bun.spawn([BINARY, "run", "sleep 30; echo late"], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" });
    // Interrupted once the command runs (its workspace exists), however slowly the machine starts it.
    for (let i = 0; i < 250 && readdirSync(tmp).length === 0; i++) await Bun.sleep(20);
    await Bun.sleep(200);
    child.kill("SIGINT");
    const code = await child.exited;
    const stderr = await new Response(child.stderr).text();
    expect(code).toBe(130);
    expect(stderr).toMatch(/Canceled transformation [0-9a-f]{64}/);
    expect(readdirSync(tmp)).toEqual([]);
    const again = await runSeamless(["run", "--dry", "-j", "j", "sleep 30; echo late"], { cwd: dir.path, env });
    const db = new Database(join(dir.path, "cache", "__TOPLEVEL__", "seamless.db"), { readonly: true });
    expect(db.query(`SELECT * FROM "transformation" WHERE checksum = ?`).get(again.stdout.trim())).toBeNull();
    db.close();
  }, 15_000);

  test("two identical runs started together execute once", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const [a, b] = await Promise.all([
      runSeamless(["run", "sleep 0.5; date +%s%N"], { cwd: dir.path, env }),
      runSeamless(["run", "sleep 0.5; date +%s%N"], { cwd: dir.path, env }),
    ]);
    expect(a.exitCode).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  }, 15_000);

  test("a reader of a running result waits for its .FUTURE", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const writer = Bun.spawn([BINARY, "run", "sleep 2; echo later > out.txt"], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" });
    for (let i = 0; i < 250 && !existsSync(join(dir.path, "out.txt.FUTURE")); i++) await Bun.sleep(20);
    const reader = await runSeamless(["run", "cat out.txt"], { cwd: dir.path, env });
    expect(await writer.exited).toBe(0);
    expect(reader.stdout).toBe("later\n");
    expect(reader.stderr).toContain("Waiting for future");
  }, 15_000);

  test("run-transformation replays a --dry --upload job", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const dry = await runSeamless(["run", "--dry", "--upload", "-j", "job", "echo hello"], { cwd: dir.path, env });
    expect(dry.stdout).toBe(`${VECTORS.tfEchoHello}\n`);
    expect(readFileSync(join(dir.path, "job/transformation.json.CHECKSUM"), "utf8")).toBe(VECTORS.tfEchoHello);
    const replay = await runSeamless(["run-transformation", "job/transformation.json.CHECKSUM"], { cwd: dir.path, env });
    expect([replay.exitCode, replay.stdout]).toEqual([0, `${VECTORS.hello}\n`]);
    const missing = await runSeamless(["run-transformation", VECTORS.tfSimple], { cwd: dir.path, env });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(VECTORS.tfSimple);
  });
});
