/** End-to-end: the queue daemon and its CLI through the compiled binary, crash safety, the Python queue file. */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { VECTORS } from "../fixtures/spec-vectors.ts";
import { isProcessAlive } from "../../lib/process/process-tree.ts";

setDefaultTimeout(60_000);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A temp project with its own cache; the daemon started there is stopped (or killed) afterwards. */
function project() {
  const dir = tempDir("seamless-queue-e2e-");
  const env = scrubbedEnv(join(dir.path, "cache"));
  const address = join(dir.path, "cache", "queue", "daemon.json");
  const q = (args: string[], stdin?: string) => runSeamless(["queue", ...args], { cwd: dir.path, env, stdin });
  const daemonPid = () => (existsSync(address) ? (JSON.parse(readFileSync(address, "utf8")).pid as number) : null);
  cleanups.push(() => dir[Symbol.dispose]());
  cleanups.push(async () => {
    const pid = daemonPid();
    if (pid !== null) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {}
      for (let i = 0; i < 200 && isProcessAlive(pid); i++) await Bun.sleep(10);
    }
  });
  return { dir: dir.path, env, q, daemonPid, address };
}

describe("seamless queue (issue 21 §2)", () => {
  test("submit starts the daemon, prints the id; wait, status --json, logs, list", async () => {
    const { q } = project();
    const submitted = await q(["submit", "--plain", "--label", "L", "--", "echo out; echo err >&2; exit 3"]);
    expect(submitted.stderr).toBe("");
    expect(submitted.exitCode).toBe(0);
    expect(submitted.stdout).toBe("1\n");
    const waited = await q(["wait", "1"]);
    expect(waited.exitCode).toBe(1);
    expect(waited.stdout).toBe("1 failed (exit 3)\n");
    const status = JSON.parse((await q(["status", "1", "--json"])).stdout);
    expect(status).toMatchObject({ id: 1, state: "failed", exit_code: 3, plain: true, label: "L", reason: "exit code 3" });
    expect((await q(["logs", "1"])).stdout).toBe("out\nerr\n");
    const list = await q(["list", "--state", "failed"]);
    expect(list.stdout).toContain("1   failed");
  });

  test("a transformation job is prepared at submit, placed in its workdir, and answered from cache the second time", async () => {
    const { dir, q } = project();
    writeFileSync(join(dir, "a.txt"), "apples\npears\noranges\nbananas\n");
    expect((await q(["submit", "--", "head -3 a.txt > out.txt"])).stdout).toBe("1\n");
    expect((await q(["wait", "1"])).exitCode).toBe(0);
    expect(readFileSync(join(dir, "out.txt"), "utf8")).toBe("apples\npears\noranges\n");
    expect(readFileSync(join(dir, "out.txt.CHECKSUM"), "utf8").trim()).toBe(VECTORS.headOut);
    const first = JSON.parse((await q(["status", "1", "--json"])).stdout);
    expect(first.reason).toBeNull();
    // Changing the input after submit does not change the job: inputs were hashed at submit.
    expect((await q(["submit", "--", "head -3 a.txt > out.txt"])).stdout).toBe("2\n");
    await q(["wait", "2"]);
    const second = JSON.parse((await q(["status", "2", "--json"])).stdout);
    expect(second).toMatchObject({ state: "succeeded", reason: "answered from cache", result_checksum: first.result_checksum, transformation_checksum: first.transformation_checksum });
  });

  test("100 identical transformation jobs submitted at once: one execution", async () => {
    const { dir, q } = project();
    writeFileSync(join(dir, "a.txt"), "x\n");
    const batch = Array.from({ length: 100 }, () => "cat a.txt; sleep 0.3").join("\n");
    const submitted = await q(["submit", "--batch", "-", "--json"], batch);
    expect(submitted.exitCode).toBe(0);
    const ids = JSON.parse(submitted.stdout).map((job: { id: number }) => job.id);
    expect(ids.length).toBe(100);
    expect((await q(["wait", ...ids.map(String)])).exitCode).toBe(0);
    const jobs = JSON.parse((await q(["list", "--limit", "100", "--json"])).stdout).jobs;
    const executed = jobs.filter((job: any) => job.attached_to === null && job.reason !== "answered from cache");
    expect(executed.length).toBe(1);
    expect(new Set(jobs.map((job: any) => job.result_checksum)).size).toBe(1);
    expect((await q(["logs", String(ids[57])])).stdout).toBe("x\n");
  });

  test("cancel kills a running job's whole tree, including a setsid grandchild", async () => {
    const { dir, q } = project();
    await q(["submit", "--plain", "--", "bash -c 'setsid sleep 1000 & echo $! > escapee.pid; sleep 1000'"]);
    const pidFile = join(dir, "escapee.pid");
    for (let i = 0; i < 500 && !(existsSync(pidFile) && readFileSync(pidFile, "utf8").trim()); i++) await Bun.sleep(10);
    const escapee = Number(readFileSync(pidFile, "utf8"));
    expect(isProcessAlive(escapee)).toBe(true);
    const canceled = await q(["cancel", "1"]);
    expect(canceled.stdout).toBe("1 canceled\n");
    await q(["drain"]);
    expect(isProcessAlive(escapee)).toBe(false);
    expect(JSON.parse((await q(["status", "1", "--json"])).stdout).state).toBe("canceled");
  });

  test("retries end in dead, a timeout in timeout; --after of a failed job fails at once with the reason", async () => {
    const { q } = project();
    await q(["start", "--detach"]);
    await q(["submit", "--plain", "--retries", "1", "--", "exit 1"]);
    await q(["submit", "--plain", "--timeout", "0.3", "--", "sleep 100"]);
    await q(["submit", "--plain", "--after", "1", "--", "echo never"]);
    await q(["wait", "1", "2", "3"]);
    const states = JSON.parse((await q(["list", "--json"])).stdout).jobs.map((job: any) => [job.id, job.state, job.attempts]);
    expect(states).toEqual([[3, "failed", 0], [2, "timeout", 1], [1, "dead", 2]]);
    expect(JSON.parse((await q(["status", "3", "--json"])).stdout).reason).toContain("job 1 ended dead");
  });

  test("bad input: an unknown id is one line and exit 1; bad flags exit 2", async () => {
    const { q } = project();
    await q(["start", "--detach"]);
    const missing = await q(["status", "999"]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toBe("seamless queue: Cannot find job 999: no such job\n");
    expect((await q(["submit", "--priority", "-3", "--", "true"])).exitCode).toBe(2);
    expect((await q(["submit", "--plain", "--", "   "])).exitCode).toBe(1);
    expect((await q(["logs", "abc"])).exitCode).toBe(2);
  });

  test("start writes the status file (port range); logs are followed by many readers at once, over WebSocket and HTTP", async () => {
    const { dir, q } = project();
    const statusFile = join(dir, "status.json");
    writeFileSync(statusFile, '{"meta": {"service": "queue"}}');
    expect((await q(["start", "--detach", "--status-file", "status.json", "--port-range", "41000", "41999"])).exitCode).toBe(0);
    for (let i = 0; i < 500 && !readFileSync(statusFile, "utf8").includes("running"); i++) await Bun.sleep(10);
    const status = JSON.parse(readFileSync(statusFile, "utf8"));
    expect(status.status).toBe("running");
    expect(status.meta).toEqual({ service: "queue" });
    expect(status.port).toBeGreaterThanOrEqual(41000);
    expect(status.port).toBeLessThanOrEqual(41999);
    await q(["pause"]);
    await q(["submit", "--plain", "--", "echo one; sleep 0.5; echo two"]);
    const readWebSocket = () => new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${status.port}/jobs/1/logs`);
      ws.binaryType = "arraybuffer";
      const parts: Buffer[] = [];
      ws.onmessage = (event) => parts.push(Buffer.from(event.data as ArrayBuffer));
      ws.onclose = () => resolve(Buffer.concat(parts).toString());
      ws.onerror = () => reject(new Error("WebSocket error"));
    });
    const readers = [readWebSocket(), readWebSocket(), readWebSocket(), fetch(`http://127.0.0.1:${status.port}/jobs/1/logs?follow=1&from=0`).then((r) => r.text()), q(["logs", "1", "--follow"]).then((r) => r.stdout)];
    await Bun.sleep(100);
    await q(["resume"]);
    expect(await Promise.all(readers)).toEqual(Array(5).fill("one\ntwo\n"));
    expect((await q(["logs", "1", "--from", "4"])).stdout).toBe("two\n");
  });

  test("a running job's log stays capped while it runs; logs --follow gets the head, the omitted line and the newest tail", async () => {
    const { dir, q } = project();
    const command = "printf 'HEAD\\n'; head -c 8000000 /dev/zero | tr '\\0' x; printf '\\nTAIL\\n'; while [ ! -e release ]; do sleep 0.02; done; printf 'FINAL\\n'";
    expect((await q(["submit", "--plain", "--", command])).stdout).toBe("1\n");
    const log = join(dir, "cache", "queue", "logs", "1.log");
    const cap = 2 * 1024 * 1024;
    let size = Infinity;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await Bun.sleep(20)) {
      size = existsSync(log) ? statSync(log).size : Infinity;
      if (size <= cap * 1.5 + 100 && readFileSync(log, "latin1").endsWith("TAIL\n")) break;
    }
    expect(JSON.parse((await q(["status", "1", "--json"])).stdout).state).toBe("running");
    expect(size).toBeLessThanOrEqual(cap * 1.5 + 100);
    const following = q(["logs", "1", "--follow"]);
    writeFileSync(join(dir, "release"), "");
    const followed = (await following).stdout;
    expect(followed.startsWith("HEAD\nxxxx")).toBe(true);
    expect(followed).toMatch(/\n\[seamless queue: +\d+ bytes of log omitted\]\nx/);
    expect(followed.endsWith("xxxx\nTAIL\nFINAL\n")).toBe(true);
    expect(followed.length).toBeLessThan(cap * 2);
  });

  test("--help on every verb", async () => {
    const { q } = project();
    for (const verb of ["start", "stop", "submit", "status", "list", "cancel", "logs", "wait", "pause", "resume", "drain", "clean", "group"]) {
      const result = await q([verb, "--help"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toStartWith(`Usage: seamless queue ${verb}`);
    }
  });
});

describe("seamless queue crash safety (issue 21 §3)", () => {
  test("kill -9 with 4 jobs running and 100 queued, restart: every job runs exactly once", async () => {
    const { dir, q, daemonPid } = project();
    await q(["start", "--detach"]);
    await q(["group", "add", "slow", "--parallel", "4"]);
    await q(["pause", "--group", "default"]);
    const slow = Array.from({ length: 4 }, () => 'echo "$SEAMLESS_JOB_ID" >> runs.txt; sleep 1.5').join("\n");
    const quick = Array.from({ length: 100 }, () => 'echo "$SEAMLESS_JOB_ID" >> runs.txt').join("\n");
    await q(["submit", "--plain", "--group", "slow", "--batch", "-"], slow);
    await q(["submit", "--plain", "--batch", "-"], quick);
    const runs = join(dir, "runs.txt");
    for (let i = 0; i < 500 && !(existsSync(runs) && readFileSync(runs, "utf8").split("\n").length > 4); i++) await Bun.sleep(10);
    const pid = daemonPid()!;
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 200 && isProcessAlive(pid); i++) await Bun.sleep(10);
    const restarted = await q(["resume", "--group", "default"]);
    expect(restarted.exitCode).toBe(1); // the daemon is gone; resume does not start one
    expect((await q(["start", "--detach"])).exitCode).toBe(0);
    await q(["resume", "--group", "default"]);
    expect((await q(["wait", "--all"])).exitCode).toBe(0);
    const ids = readFileSync(runs, "utf8").trim().split("\n").map(Number).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 104 }, (_, i) => i + 1));
    const jobs = JSON.parse((await q(["list", "--limit", "200", "--json"])).stdout).jobs;
    expect(jobs.every((job: any) => job.state === "succeeded" && job.attempts === 1)).toBe(true);
  });

  test("a corrupt queue database is refused with a clear message and left untouched", async () => {
    const { dir, q } = project();
    const database = join(dir, "cache", "queue", "queue.db");
    mkdirSync(join(dir, "cache", "queue"), { recursive: true });
    const garbage = Buffer.concat([Buffer.from("SQLite format 3\0"), Buffer.alloc(5000, 0x5a)]);
    writeFileSync(database, garbage);
    const started = await runSeamless(["queue", "start"], { cwd: dir, env: scrubbedEnv(join(dir, "cache")) });
    expect(started.exitCode).toBe(1);
    expect(started.stderr).toContain("queue.db");
    expect(started.stderr).toMatch(/corrupt|not a queue database/);
    expect(Buffer.compare(readFileSync(database), garbage)).toBe(0);
    expect((await q(["submit", "--plain", "--", "true"])).exitCode).toBe(1);
    expect(Buffer.compare(readFileSync(database), garbage)).toBe(0);
  });

  test("a second daemon on the same database refuses to start", async () => {
    const { q } = project();
    await q(["start", "--detach"]);
    const second = await q(["start"]);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain("in use by another queue daemon");
  });
});

describe("Python queue file (cli-spec §7)", () => {
  function specProject(dir: string): void {
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data/a.txt"), "apples\npears\noranges\nbananas\n");
  }

  test("seamless run --qsubmit appends the SUBMIT record byte for byte", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "data"));
    writeFileSync(join(dir.path, "data/a.txt.CHECKSUM"), `${VECTORS.dataA}\n`);
    const env = scrubbedEnv(join(dir.path, "cache"));
    const result = await runSeamless(["run", "--qsub", "-y", "-c", "head -3 data/a.txt > out.txt"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(0);
    const expected = `{
  "queue_command": "SUBMIT",
  "original_command": "seamless-run --qsub -y -c head -3 data/a.txt > out.txt",
  "transformation_checksum": "${VECTORS.tfHead}",
  "transformation_dict": {
    "__language__": "bash",
    "__output__": [
      "result",
      "deepfolder",
      null
    ],
    "data/a.txt": [
      "bytes",
      null,
      "${VECTORS.dataA}"
    ],
    "__format__": {
      "data/a.txt": {
        "filesystem": {
          "optional": true,
          "mode": "file"
        }
      }
    },
    "code": [
      "text",
      null,
      "${VECTORS.codeHead}"
    ]
  },
  "result_targets": {
    "out.txt": null
  },
  "params": {
    "undo": false,
    "scratch": false,
    "workdir": "${dir.path}",
    "download": true,
    "auto_confirm": "yes",
    "capture_stdout": false,
    "max_download_size": 500000000,
    "max_download_files": 2000
  }
}\0`;
    expect(readFileSync(join(dir.path, ".seamless-queue"), "utf8")).toBe(expected);
    expect(existsSync(join(dir.path, ".seamless-queue.LOCK"))).toBe(false);
    const noTargets = await runSeamless(["run", "--qsub", "echo hi"], { cwd: dir.path, env });
    expect(noTargets.exitCode).toBe(1);
    expect(noTargets.stderr).toContain("Submit to a queue, but no capture/download targets");
  });

  test("seamless queue runs the file (a record still being written is read later), queue-finish ends it", async () => {
    using dir = tempDir();
    specProject(dir.path);
    const env = scrubbedEnv(join(dir.path, "cache"), { SEAMLESS_QUEUE_FILE: "jobs.q" });
    expect((await runSeamless(["run", "--qsub", "-y", "head -3 data/a.txt > out.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect((await runSeamless(["run", "--qsub", "-y", "tail -1 data/a.txt > last.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    const file = join(dir.path, "jobs.q");
    const bytes = readFileSync(file);
    const firstEnd = bytes.indexOf(0) + 1;
    const cut = firstEnd + 40;
    writeFileSync(file, bytes.subarray(0, cut));
    const queue = Bun.spawn([BINARY, "queue"], { cwd: dir.path, env, stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(400);
    appendFileSync(file, bytes.subarray(cut));
    appendFileSync(file, "not json\0");
    const finish = await runSeamless(["queue-finish"], { cwd: dir.path, env });
    expect(finish.exitCode).toBe(0);
    const [stderr, exitCode] = await Promise.all([new Response(queue.stderr).text(), queue.exited]);
    expect(exitCode).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(join(dir.path, "out.txt"), "utf8")).toBe("apples\npears\noranges\n");
    expect(readFileSync(join(dir.path, "last.txt"), "utf8")).toBe("bananas\n");
    expect(stderr).toContain("Job 1, run command:\nseamless-run --qsub -y head -3 data/a.txt > out.txt\n\n");
    expect(stderr).toContain("*** Job 2: seamless-run --qsub -y tail -1 data/a.txt > last.txt, FINISHED ***\n");
    expect(stderr).toContain("ERROR: Command is not valid JSON\n");
    expect(stderr).not.toContain("EXCEPTION");
  });
});
