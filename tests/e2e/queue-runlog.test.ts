/** End-to-end: queued transformation jobs in the run log (issue 23 §1) and held against gc (§3). */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { isProcessAlive } from "../../lib/process/process-tree.ts";

setDefaultTimeout(60_000);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const bufferPath = (cache: string, checksum: string) => join(cache, "__TOPLEVEL__", checksum.slice(0, 2), checksum);

/** A temp project with its own cache; its daemon is stopped afterwards. */
function project() {
  const dir = tempDir("seamless-queue-runlog-");
  const cache = join(dir.path, "cache");
  const env = scrubbedEnv(cache);
  const address = join(cache, "queue", "daemon.json");
  const run = (args: string[]) => runSeamless(args, { cwd: dir.path, env });
  const q = (args: string[]) => run(["queue", ...args]);
  cleanups.push(() => dir[Symbol.dispose]());
  cleanups.push(async () => {
    const pid = existsSync(address) ? (JSON.parse(readFileSync(address, "utf8")).pid as number) : null;
    if (pid === null) return;
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
    for (let i = 0; i < 200 && isProcessAlive(pid); i++) await Bun.sleep(10);
  });
  const leases = () => (existsSync(join(cache, "leases")) ? readdirSync(join(cache, "leases")).filter((name) => name.endsWith(".json")) : []);
  const log = async () => JSON.parse((await run(["log", "--json"])).stdout) as Record<string, unknown>[];
  return { dir: dir.path, cache, run, q, leases, log };
}

describe("queue jobs in the run log", () => {
  test("an executed job, an identical one answered from cache, a failed and a canceled job: one row each, source queue", async () => {
    const { dir, q, leases, log } = project();
    writeFileSync(join(dir, "a.txt"), "apples\npears\noranges\nbananas\n");
    expect((await q(["submit", "--", "head -3 a.txt > out.txt"])).stdout).toBe("1\n");
    expect((await q(["wait", "1"])).exitCode).toBe(0);
    expect((await q(["submit", "--", "head -3 a.txt > out.txt"])).stdout).toBe("2\n");
    expect((await q(["wait", "2"])).exitCode).toBe(0);
    const status = JSON.parse((await q(["status", "2", "--json"])).stdout);
    expect(status.reason).toBe("answered from cache");
    let rows = await log();
    expect(rows.length).toBe(2);
    // Newest first.
    expect(rows[1]).toMatchObject({ source: "queue", command: "head -3 a.txt > out.txt", cwd: dir, outcome: "executed", tf_checksum: status.transformation_checksum, result_checksum: status.result_checksum });
    expect(rows[0]).toMatchObject({ source: "queue", command: "head -3 a.txt > out.txt", cwd: dir, outcome: "cache hit", tf_checksum: status.transformation_checksum, result_checksum: status.result_checksum });
    expect(rows[0]!.saved_ms).toBe(rows[1]!.execution_ms);

    expect((await q(["submit", "--", "cat a.txt; exit 3"])).stdout).toBe("3\n");
    expect((await q(["wait", "3"])).exitCode).toBe(1);
    expect((await q(["submit", "--", "cat a.txt; sleep 30"])).stdout).toBe("4\n");
    for (let i = 0; i < 500 && JSON.parse((await q(["status", "4", "--json"])).stdout).state !== "running"; i++) await Bun.sleep(20);
    await Bun.sleep(300); // the job's process is under way
    expect((await q(["cancel", "4"])).exitCode).toBe(0);
    await q(["wait", "4"]);
    for (let i = 0; i < 500 && (await log()).length < 4; i++) await Bun.sleep(20);
    rows = await log();
    expect(rows.map((row) => [row.source, row.command, row.outcome])).toEqual([
      ["queue", "cat a.txt; sleep 30", "canceled"],
      ["queue", "cat a.txt; exit 3", "failed"],
      ["queue", "head -3 a.txt > out.txt", "cache hit"],
      ["queue", "head -3 a.txt > out.txt", "executed"],
    ]);
    // Every job ended: no lease is left.
    expect(leases()).toEqual([]);
  });
});

describe("queue jobs against gc", () => {
  test("gc --max-size 1 while a job is queued keeps its inputs; the job then succeeds", async () => {
    const { dir, cache, run, q, leases } = project();
    writeFileSync(join(dir, "a.txt"), "apples\npears\noranges\nbananas\n");
    // The input of the queued job is the result of an earlier run, so gc would remove it.
    expect((await run(["run", "head -3 a.txt > mid.txt"])).exitCode).toBe(0);
    const mid = readFileSync(join(dir, "mid.txt.CHECKSUM"), "utf8").trim();
    expect(existsSync(bufferPath(cache, mid))).toBe(true);
    expect((await q(["start", "--detach"])).exitCode).toBe(0);
    await q(["pause", "--group", "default"]); // a group's pause outlasts a daemon restart
    expect((await q(["submit", "--", "tail -1 mid.txt > last.txt"])).stdout).toBe("1\n");
    const job = JSON.parse((await q(["status", "1", "--json"])).stdout);
    expect(job.state).toBe("queued");
    expect(leases().length).toBe(1);

    const gc = JSON.parse((await run(["gc", "--json", "--max-size", "1"])).stdout);
    expect(gc.removed_results).toBe(1);
    expect(existsSync(bufferPath(cache, mid))).toBe(true);
    expect(existsSync(bufferPath(cache, job.transformation_checksum))).toBe(true);

    // The lease is the daemon's: a daemon killed drops it, the next one holds the job's buffers again.
    const address = join(cache, "queue", "daemon.json");
    const firstPid = JSON.parse(readFileSync(address, "utf8")).pid as number;
    const leasePid = () => JSON.parse(readFileSync(join(cache, "leases", leases()[0]!), "utf8")).pid as number;
    expect(leasePid()).toBe(firstPid);
    process.kill(firstPid, "SIGKILL");
    for (let i = 0; i < 200 && isProcessAlive(firstPid); i++) await Bun.sleep(10);
    expect((await q(["start", "--detach"])).exitCode).toBe(0);
    const secondPid = JSON.parse(readFileSync(address, "utf8")).pid as number;
    expect(secondPid).not.toBe(firstPid);
    // gc drops the dead daemon's lease and keeps to the live one's.
    await run(["gc", "--max-size", "1"]);
    expect(leases().length).toBe(1);
    expect(leasePid()).toBe(secondPid);
    expect(existsSync(bufferPath(cache, mid))).toBe(true);

    await q(["resume", "--group", "default"]);
    expect((await q(["wait", "1"])).exitCode).toBe(0);
    expect(readFileSync(join(dir, "last.txt"), "utf8")).toBe("oranges\n");
    expect(leases()).toEqual([]);
  });
});
