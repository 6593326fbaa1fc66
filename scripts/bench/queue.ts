/**
 * The queue against task-spooler and nq (Debian `task-spooler`, `nq`), in the same run
 * (issue 21 §4):
 * - 1,000 × `true` through 2 slots: ours submitted as one batch (`submit --batch`), durable;
 *   tsp's submitted in a shell loop as its users do; jobs/s from the first submit to the last job done
 * - one CLI submit, p50: empty queue vs 100,000 finished jobs (and nq over 1,000 jobs)
 * - idle queue, submit → job process started, p50
 * - with 100,000 jobs in history: `list --limit 50` and `status ID`, p50
 * - 100 identical transformation jobs: executions
 */
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, median, removeDir, report, scratchDir, timeCommand } from "./harness.ts";

const has = (tool: string) => Bun.spawnSync(["sh", "-c", `command -v ${tool}`]).exitCode === 0;
const root = scratchDir("queue");
const env = (dir: string) => ({ ...process.env, SEAMLESS_CACHE: join(dir, "cache"), NO_COLOR: "1" });

function seamless(dir: string, args: string[], stdin?: string): string {
  const result = Bun.spawnSync([BINARY, "queue", ...args], { cwd: dir, env: env(dir), stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0 && args[0] !== "wait") throw new Error(`seamless queue ${args.join(" ")}: ${result.stderr}`);
  return result.stdout.toString();
}

function newQueue(name: string, slots = 2): string {
  const dir = join(root, name);
  Bun.spawnSync(["mkdir", "-p", dir]);
  seamless(dir, ["start", "--detach"]);
  seamless(dir, ["group", "add", "default", "--parallel", String(slots)]);
  return dir;
}

function stopQueue(dir: string): void {
  seamless(dir, ["stop"]);
}

function p50(runs: number, work: () => number): number {
  work();
  return median(Array.from({ length: runs }, work));
}

// 1. Throughput, 1,000 × true through 2 slots.
const JOBS = 1000;
let oursRate = 0;
{
  const dir = newQueue("throughput");
  const batch = `${Array.from({ length: JOBS }, () => "true").join("\n")}\n`;
  const started = performance.now();
  seamless(dir, ["submit", "--plain", "--batch", "-"], batch);
  seamless(dir, ["wait", "--all"]);
  const seconds = (performance.now() - started) / 1000;
  oursRate = JOBS / seconds;
  const failed = seamless(dir, ["list", "--state", "failed,dead,interrupted", "--json"]);
  if (JSON.parse(failed).jobs.length > 0) throw new Error("throughput jobs failed");
  stopQueue(dir);
}
let tspRate = 0;
if (has("tsp")) {
  const socket = join(root, "tsp.socket");
  const tspEnv = { ...process.env, TS_SOCKET: socket, TS_SLOTS: "2", TS_MAXFINISHED: String(JOBS + 10), TMPDIR: root };
  Bun.spawnSync(["tsp", "-S", "2"], { env: tspEnv });
  const started = performance.now();
  Bun.spawnSync(["bash", "-c", `for i in $(seq ${JOBS}); do tsp true >/dev/null; done; while tsp -l | grep -qE ' (running|queued) '; do sleep 0.005; done`], { env: tspEnv });
  tspRate = JOBS / ((performance.now() - started) / 1000);
  Bun.spawnSync(["tsp", "-K"], { env: tspEnv });
}
report("1,000 x true, 2 slots: jobs/s", `${oursRate.toFixed(0)}/s (tsp ${tspRate.toFixed(0)}/s, ${(oursRate / tspRate).toFixed(2)}x)`, ">= 1.2x tsp", oursRate >= 1.2 * tspRate);

// 2. Submit latency, empty vs 100,000 finished jobs.
const SUBMITS = 40;
function submitP50(dir: string): number {
  seamless(dir, ["pause"]);
  const value = p50(SUBMITS, () => timeCommand([BINARY, "queue", "submit", "--plain", "--", "true"], { cwd: dir, env: env(dir) }));
  seamless(dir, ["resume"]);
  return value;
}
const emptyDir = newQueue("submit-empty");
const submitEmpty = submitP50(emptyDir);
stopQueue(emptyDir);

const bigDir = newQueue("submit-big");
stopQueue(bigDir);
{
  // 100,000 finished jobs written straight into the database (as a long-lived queue would hold).
  const db = new Database(join(bigDir, "cache", "queue", "queue.db"));
  const insert = db.query(`INSERT INTO jobs (state, command, plain, priority, retries, timeout_seconds, after, grp, label, workdir, env, submitted_at,
    attempts, started_at, finished_at, exit_code, wall_seconds) VALUES ('succeeded', ?, 1, 0, 0, NULL, '[]', 'default', NULL, ?, '{}', ?, 1, ?, ?, 0, 0.01)`);
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < 100_000; i++) insert.run(`echo ${i}`, bigDir, now - 1e6 + i, now - 1e6 + i, now - 1e6 + i + 5);
  })();
  db.close();
}
seamless(bigDir, ["start", "--detach"]);
const submitBig = submitP50(bigDir);
report("submit p50, empty queue", `${submitEmpty.toFixed(1)} ms`, "<= 10 ms", submitEmpty <= 10);
report("submit p50, 100k finished jobs", `${submitBig.toFixed(1)} ms (${(submitBig / submitEmpty).toFixed(2)}x empty)`, "<= 1.2x empty", submitBig <= 1.2 * submitEmpty);

// 4. list / status with 100k history.
const listP50 = p50(20, () => timeCommand([BINARY, "queue", "list", "--limit", "50"], { cwd: bigDir, env: env(bigDir) }));
const statusP50 = p50(20, () => timeCommand([BINARY, "queue", "status", "50000"], { cwd: bigDir, env: env(bigDir) }));
const versionP50 = p50(20, () => timeCommand([BINARY, "--version"], { cwd: bigDir, env: env(bigDir) }));
report("list --limit 50, 100k history", `${listP50.toFixed(1)} ms`, "<= 50 ms", listP50 <= 50);
report("status ID, 100k history", `${statusP50.toFixed(1)} ms`, "<= 20 ms", statusP50 <= 20);
console.log(`info  seamless --version p50 (start-up floor)           ${versionP50.toFixed(1)} ms`);
stopQueue(bigDir);

// 3. Idle queue: submit -> job process started.
{
  const dir = newQueue("latency");
  const delays: number[] = [];
  for (let i = 0; i < 25; i++) {
    const stamp = join(dir, `t${i}`);
    const wallBefore = Date.now();
    Bun.spawnSync([BINARY, "queue", "submit", "--plain", "--", `echo $EPOCHREALTIME > ${stamp}`], { cwd: dir, env: env(dir), stdout: "ignore" });
    seamless(dir, ["wait", "--all"]);
    const startedAt = Number(readFileSync(stamp, "utf8").trim()) * 1000;
    delays.push(startedAt - wallBefore);
  }
  const delay = median(delays.slice(1));
  report("idle queue, submit -> job started, p50", `${delay.toFixed(1)} ms (incl. the CLI's start-up)`, "<= 5 ms", delay <= 5);
  stopQueue(dir);
}

// tsp and nq submit latency, and nq as its directory grows.
if (has("tsp")) {
  const socket = join(root, "tsp2.socket");
  const tspEnv = { ...process.env, TS_SOCKET: socket, TMPDIR: root };
  const tspSubmit = p50(SUBMITS, () => timeCommand(["tsp", "true"], { env: tspEnv }));
  console.log(`info  tsp submit p50                                   ${tspSubmit.toFixed(1)} ms`);
  Bun.spawnSync(["tsp", "-K"], { env: tspEnv });
}
if (has("nq")) {
  const nqDir = join(root, "nq");
  Bun.spawnSync(["mkdir", "-p", nqDir]);
  const nqEnv = { ...process.env, NQDIR: nqDir };
  const first = p50(20, () => timeCommand(["nq", "true"], { env: nqEnv }));
  for (let i = 0; i < 1000; i++) Bun.spawnSync(["nq", "true"], { env: nqEnv, stdout: "ignore", stderr: "ignore" });
  const later = p50(20, () => timeCommand(["nq", "true"], { env: nqEnv }));
  console.log(`info  nq submit p50: empty ${first.toFixed(1)} ms, after 1,000 jobs ${later.toFixed(1)} ms (${(later / first).toFixed(1)}x)`);
}

// 5. 100 identical transformation jobs: one execution.
{
  const dir = newQueue("identical");
  writeFileSync(join(dir, "a.txt"), "x\n");
  const started = performance.now();
  seamless(dir, ["submit", "--batch", "-"], `${Array.from({ length: 100 }, () => "cat a.txt; sleep 0.2").join("\n")}\n`);
  seamless(dir, ["wait", "--all"]);
  const seconds = (performance.now() - started) / 1000;
  const jobs = JSON.parse(seamless(dir, ["list", "--limit", "100", "--json"])).jobs;
  const executions = jobs.filter((job: { attached_to: number | null; reason: string | null }) => job.attached_to === null && job.reason !== "answered from cache").length;
  report("100 identical transformation jobs", `${executions} execution(s), ${seconds.toFixed(2)} s`, "1 execution", executions === 1);
  stopQueue(dir);
}
if (!existsSync(root)) throw new Error("scratch dir vanished");
removeDir(root);
