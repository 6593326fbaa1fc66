/** End-to-end: the run log, `log`, `explain` and `run --force` (issue 23) through the compiled binary. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { VECTORS } from "../fixtures/spec-vectors.ts";

async function logJson(cwd: string, env: Record<string, string>, args: string[] = []): Promise<Record<string, unknown>[]> {
  const result = await runSeamless(["log", "--json", ...args], { cwd, env });
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout);
}

describe("run log", () => {
  test("run logs an execution, then a cache hit with the time it saved; -v says which", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const first = await runSeamless(["run", "-v", "echo hello"], { cwd: dir.path, env });
    expect(first.stdout).toBe("hello\n");
    expect(first.stderr).toMatch(/seamless run: executed in \d+ ms\n$/);
    const second = await runSeamless(["run", "-v", "echo hello"], { cwd: dir.path, env });
    expect(second.stderr).toMatch(/seamless run: from cache \(saved \d+ ms\)\n$/);
    const runs = await logJson(dir.path, env);
    expect(runs.map((run) => [run.id, run.outcome, run.command, run.tf_checksum, run.result_checksum])).toEqual([
      [2, "cache hit", "echo hello", VECTORS.tfEchoHello, VECTORS.hello],
      [1, "executed", "echo hello", VECTORS.tfEchoHello, VECTORS.hello],
    ]);
    expect(runs[1]!.execution_ms).toBeGreaterThan(0);
    expect(runs[0]!.saved_ms).toBe(runs[1]!.execution_ms);
    expect(runs[0]!.cwd).toBe(dir.path);
    const text = await runSeamless(["log"], { cwd: dir.path, env });
    expect(text.stdout.split("\n")[0]).toMatch(/^\s+2 .* cache hit .* saved \d+ ms\s+echo hello$/);
  });

  test("log show prints the stderr of an executed run, by id or by checksum", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    await runSeamless(["run", "echo to-stderr >&2; echo out"], { cwd: dir.path, env });
    const byId = await runSeamless(["log", "show", "1"], { cwd: dir.path, env });
    expect(byId.stdout).toContain("outcome:        executed");
    expect(byId.stdout).toMatch(/stderr:\nto-stderr\n$/);
    const [run] = await logJson(dir.path, env);
    const byChecksum = await runSeamless(["log", "show", "--json", (run!.tf_checksum as string).slice(0, 10)], { cwd: dir.path, env });
    expect(JSON.parse(byChecksum.stdout).stderr).toBe("to-stderr\n");
    const missing = await runSeamless(["log", "show", "999"], { cwd: dir.path, env });
    expect([missing.exitCode, missing.stderr]).toEqual([1, 'seamless log: No run "999" in the run log\n']);
  });

  test("a failed run is logged with its stderr; --command and --limit filter", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    expect((await runSeamless(["run", "echo broken >&2; exit 3"], { cwd: dir.path, env })).exitCode).toBe(1);
    await runSeamless(["run", "echo other"], { cwd: dir.path, env });
    const failed = await logJson(dir.path, env, ["--command", "broken"]);
    expect(failed.map((run) => [run.outcome, run.result_checksum])).toEqual([["failed", null]]);
    const shown = await runSeamless(["log", "show", String(failed[0]!.id)], { cwd: dir.path, env });
    expect(shown.stdout).toMatch(/stderr:\nbroken\n$/);
    expect((await logJson(dir.path, env, ["--limit", "1"])).map((run) => run.command)).toEqual(["echo other"]);
    expect((await runSeamless(["log", "--since", "soon"], { cwd: dir.path, env })).exitCode).toBe(2);
  });

  test("run-transformation is logged under its checksum", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    await runSeamless(["run", "--dry", "--upload", "-j", "job", "echo hello"], { cwd: dir.path, env });
    const result = await runSeamless(["run-transformation", "job/transformation.json.CHECKSUM"], { cwd: dir.path, env });
    expect(result.stdout).toBe(`${VECTORS.hello}\n`);
    const [run] = await logJson(dir.path, env);
    expect([run!.source, run!.command, run!.outcome]).toEqual(["run-transformation", `run-transformation ${VECTORS.tfEchoHello}`, "executed"]);
  });

  test("an identical run started meanwhile is logged as joined; an interrupted one as canceled", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const spawn = (command: string) => Bun.spawn([BINARY, "run", command], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" });
    const waitForLock = async () => {
      for (let i = 0; i < 400 && !(existsSync(join(cache, "locks")) && readdirSync(join(cache, "locks")).some((name) => name.endsWith(".lock"))); i++) await Bun.sleep(50);
    };
    const first = spawn("sleep 2; echo joined");
    await waitForLock();
    const second = spawn("sleep 2; echo joined");
    expect([await first.exited, await second.exited]).toEqual([0, 0]);
    expect((await logJson(dir.path, env)).map((run) => run.outcome).sort()).toEqual(["executed", "joined"]);
    const interrupted = spawn("sleep 30");
    await waitForLock();
    interrupted.kill("SIGINT");
    expect(await interrupted.exited).toBe(130);
    const [newest] = await logJson(dir.path, env);
    expect([newest!.outcome, newest!.command]).toEqual(["canceled", "sleep 30"]);
  }, 60_000);

  test("SEAMLESS_RUN_LOG=off logs nothing", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"), { SEAMLESS_RUN_LOG: "off" });
    await runSeamless(["run", "echo hello"], { cwd: dir.path, env });
    expect(existsSync(join(dir.path, "cache", "run-log"))).toBe(false);
  });
});

describe("seamless explain", () => {
  test("says cache hit, then names the input that changed with both checksums", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "a.txt"), "one\n");
    await runSeamless(["run", "wc -l a.txt"], { cwd: dir.path, env });
    const hit = await runSeamless(["explain", "wc -l a.txt"], { cwd: dir.path, env });
    expect(hit.stdout).toMatch(/^cache hit: transformation [0-9a-f]{64} has result [0-9a-f]{64}\n$/);
    writeFileSync(join(dir.path, "a.txt"), "one\ntwo\n");
    const miss = await runSeamless(["explain", "--json", "wc -l a.txt"], { cwd: dir.path, env });
    const explained = JSON.parse(miss.stdout);
    expect(explained.cache_hit).toBe(false);
    expect(explained.compared_with.id).toBe(1);
    expect(explained.differences).toEqual([{ kind: "input", name: "a.txt", old: new Bun.CryptoHasher("sha256").update("one\n").digest("hex"), new: new Bun.CryptoHasher("sha256").update("one\ntwo\n").digest("hex") }]);
    const text = await runSeamless(["explain", "wc -l a.txt"], { cwd: dir.path, env });
    expect(text.stdout).toContain("  input a.txt: ");
    expect(existsSync(join(dir.path, "a.txt.CHECKSUM"))).toBe(false);
    expect((await logJson(dir.path, env)).length).toBe(1); // nothing ran, nothing was logged
  });

  test("names a changed variable, and says when there is no earlier run", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    await runSeamless(["run", "--var", "N=3", "echo $N"], { cwd: dir.path, env });
    const changed = await runSeamless(["explain", "--var", "N=4", "echo $N"], { cwd: dir.path, env });
    expect(changed.stdout).toContain('  variable N: "3" -> "4"\n');
    const fresh = await runSeamless(["explain", "echo never"], { cwd: dir.path, env });
    expect(fresh.stdout).toContain("no earlier run of this command text in the run log\n");
  });
});

describe("seamless run --force", () => {
  test("executes on a hit; a different result moves the old one to irreproducible_transformation", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const command = "date +%s%N";
    const first = await runSeamless(["run", command], { cwd: dir.path, env });
    const hit = await runSeamless(["run", command], { cwd: dir.path, env });
    expect(hit.stdout).toBe(first.stdout);
    const forced = await runSeamless(["run", "--force", command], { cwd: dir.path, env });
    expect(forced.exitCode).toBe(0);
    expect(forced.stdout).not.toBe(first.stdout);
    expect(forced.stderr).toContain("recorded as irreproducible");
    const [newest, , oldest] = await logJson(dir.path, env);
    expect(newest!.outcome).toBe("executed");
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { readonly: true });
    const rows = db.query(`SELECT checksum, result, metadata FROM irreproducible_transformation`).all() as { checksum: string; result: string; metadata: string }[];
    expect(rows.map((row) => [row.checksum, row.result])).toEqual([[oldest!.tf_checksum as string, oldest!.result_checksum as string]]);
    expect(JSON.parse(rows[0]!.metadata).result_checksum).toBe(oldest!.result_checksum);
    expect(db.query(`SELECT result FROM "transformation" WHERE checksum = ?`).get(newest!.tf_checksum as string)).toEqual({ result: newest!.result_checksum as string });
    db.close();
    const again = await runSeamless(["run", command], { cwd: dir.path, env });
    expect(again.stdout).toBe(forced.stdout);
  });
});

describe("--json on checksum, upload, download, resolve", () => {
  test("each prints what a script needs", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "a.txt"), "hello\n");
    const checksum = JSON.parse((await runSeamless(["checksum", "--json", "a.txt"], { cwd: dir.path, env })).stdout);
    expect(checksum).toEqual([{ path: "a.txt", checksum: VECTORS.hello, type: "file" }]);
    const upload = JSON.parse((await runSeamless(["upload", "--json", "a.txt"], { cwd: dir.path, env })).stdout);
    expect(upload).toEqual({ inputs: [{ path: "a.txt", checksum: VECTORS.hello }], stored_files: 1, stored_bytes: 6 });
    const resolve = JSON.parse((await runSeamless(["resolve", "--json", VECTORS.hello], { cwd: dir.path, env })).stdout);
    expect(resolve).toEqual({ checksum: VECTORS.hello, length: 6, text: "hello\n" });
    require("node:fs").rmSync(join(dir.path, "a.txt"));
    const download = JSON.parse((await runSeamless(["download", "--json", "a.txt"], { cwd: dir.path, env })).stdout);
    expect(download).toEqual([{ path: "a.txt", checksum: VECTORS.hello, outcome: "written" }]);
  });
});

describe("seamless completion", () => {
  test("bash completes commands and a command's flags", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const script = (await runSeamless(["completion", "bash"], { cwd: dir.path, env })).stdout;
    writeFileSync(join(dir.path, "c.bash"), script);
    const probe = Bun.spawnSync(["bash", "-c", `source c.bash; COMP_WORDS=(seamless ex); COMP_CWORD=1; _seamless; echo "\${COMPREPLY[*]}"; COMP_WORDS=(seamless gc --older); COMP_CWORD=2; _seamless; echo "\${COMPREPLY[*]}"`], { cwd: dir.path });
    expect(probe.stdout.toString()).toBe("explain\n--older-than\n");
  });

  test("zsh and fish scripts name every command; an unknown shell is a usage error", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const zsh = (await runSeamless(["completion", "zsh"], { cwd: dir.path, env })).stdout;
    expect(zsh.startsWith("#compdef seamless\n")).toBe(true);
    expect(zsh).toContain("'gc:remove least recently used results and the buffers only they need'");
    const fish = (await runSeamless(["completion", "fish"], { cwd: dir.path, env })).stdout;
    expect(fish).toContain("complete -c seamless -n '__fish_seen_subcommand_from log' -l since -r -d");
    expect((await runSeamless(["completion", "tcsh"], { cwd: dir.path, env })).exitCode).toBe(2);
  });
});

describe("result targets in a directory the workspace lacks", () => {
  test("cmd > work/out.txt runs although no input lies in work/ (compatibility note)", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    require("node:fs").mkdirSync(join(dir.path, "work"));
    const result = await runSeamless(["run", "echo hi > work/out.txt"], { cwd: dir.path, env });
    expect([result.exitCode, result.stderr]).toEqual([0, ""]);
    expect(require("node:fs").readFileSync(join(dir.path, "work/out.txt"), "utf8")).toBe("hi\n");
  });

  test("a typing error names what was taken for a file and the fix", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "data.csv"), "a\n");
    const result = await runSeamless(["run", "wc -l data.cvs"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("seamless run: hint: 'data.cvs' was taken for a file name because of its extension, and does not exist: did you mean 'data.csv'?");
  });
});
