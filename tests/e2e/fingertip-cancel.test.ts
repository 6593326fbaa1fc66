/** End-to-end: `seamless fingertip` (services-spec §6.6) and `seamless cancel` (cli-spec §8). */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";

// Launching servers and running the binary take seconds on a busy machine.
setDefaultTimeout(30_000);

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error("dist/seamless is missing: run `npm run build` first (npm test does)");
});

const bufferPath = (cache: string, checksum: string) => join(cache, "__TOPLEVEL__", checksum.slice(0, 2), checksum);
const resultOf = (stderr: string) => /Result checksum: ([0-9a-f]{64})/.exec(stderr)![1]!;

describe("seamless fingertip", () => {
  test("recomputes a result buffer that is gone, and its missing input first", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const first = await runSeamless(["run", "-vv", "seq", "3"], { cwd: dir.path, env });
    expect(first.stdout).toBe("1\n2\n3\n");
    const input = resultOf(first.stderr);
    // The same bytes as a file: the next transformation's input is the first one's result.
    writeFileSync(join(dir.path, "a.txt"), "1\n2\n3\n");
    const second = await runSeamless(["run", "-vv", "sort", "-r", "a.txt"], { cwd: dir.path, env });
    expect(second.stdout).toBe("3\n2\n1\n");
    const result = resultOf(second.stderr);
    rmSync(bufferPath(cache, input));
    rmSync(bufferPath(cache, result));
    const resolve = await runSeamless(["resolve", result], { cwd: dir.path, env });
    expect(resolve.exitCode).toBe(1);
    const fingertip = await runSeamless(["fingertip", "--verbose", result], { cwd: dir.path, env });
    expect(fingertip.stderr).toContain(`Recomputing input "${input}"`);
    expect(fingertip).toMatchObject({ exitCode: 0, stdout: "3\n2\n1\n" });
    expect(existsSync(bufferPath(cache, input))).toBe(true);
    expect(existsSync(bufferPath(cache, result))).toBe(true);
    const saved = await runSeamless(["fingertip", result, "--output", "out.bin"], { cwd: dir.path, env });
    expect(saved.exitCode).toBe(0);
    expect(await Bun.file(join(dir.path, "out.bin")).text()).toBe("3\n2\n1\n");
  });

  test("a checksum no transformation produced: one clear line, exit 1", async () => {
    using dir = tempDir();
    const checksum = "ab".repeat(32);
    const result = await runSeamless(["fingertip", checksum], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^seamless fingertip: Cannot fingertip buffer "${checksum}": not in .*, and .*seamless\\.db knows no transformation that produced it\\n$`));
  });
});

describe("seamless cancel", () => {
  test("cancels a run of another process: it exits 130 and caches nothing; then not-running, exit 2", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    const runner = Bun.spawn([BINARY, "run", "sleep", "30"], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" });
    const locks = join(cache, "locks");
    let tf: string | undefined;
    for (let i = 0; i < 500 && !tf; i++) {
      tf = existsSync(locks) ? readdirSync(locks).find((name) => name.endsWith(".lock"))?.slice(0, 64) : undefined;
      if (!tf) await Bun.sleep(20);
    }
    expect(tf).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(join(dir.path, "tf.CHECKSUM"), `${tf}\n`);
    const cancel = await runSeamless(["cancel", "tf.CHECKSUM"], { cwd: dir.path, env });
    expect(cancel).toMatchObject({ exitCode: 0, stdout: "process: canceled\n" });
    expect(await runner.exited).toBe(130);
    expect(await new Response(runner.stderr).text()).toContain(`Canceled transformation ${tf}`);
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { readonly: true });
    expect(db.query(`SELECT 1 FROM "transformation" WHERE "checksum" = ?`).get(tf!)).toBeNull();
    db.close();
    const again = await runSeamless(["cancel", tf!], { cwd: dir.path, env });
    expect(again).toMatchObject({ exitCode: 2, stdout: "process: not-running\n" });
  });

  test("a bad argument is exit 1 with one line", async () => {
    using dir = tempDir();
    const result = await runSeamless(["cancel", "nope"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe(`seamless cancel: Invalid checksum "nope": not a checksum and not an existing .CHECKSUM file\n`);
  });
});
