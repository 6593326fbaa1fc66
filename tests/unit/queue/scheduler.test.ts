import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { isProcessAlive } from "../../../lib/process/process-tree.ts";
import {
  defaultJobSpec, LocalExecutor, Scheduler, SqliteJobStore, readLogChunk, retryDelayMs,
  type ExecutionOutcome, type ExecutionRequest, type Executor, type JobSpec,
} from "../../../lib/queue/mod.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function plain(command: string, extra: Partial<JobSpec> = {}): JobSpec {
  return { ...defaultJobSpec(command), plain: true, ...extra };
}

/** An executor whose executions end when the test says so. */
class ManualExecutor implements Executor {
  started: { request: ExecutionRequest; finish: (outcome: Partial<ExecutionOutcome>) => void }[] = [];
  execute(request: ExecutionRequest): Promise<ExecutionOutcome> {
    return new Promise((resolve) => {
      const finish = (outcome: Partial<ExecutionOutcome>) =>
        resolve({ status: "exited", exitCode: 0, resultChecksum: null, wallSeconds: 0.01, cpuSeconds: 0, maxRssBytes: null, ...outcome });
      request.signal.addEventListener("abort", () => finish({ status: "canceled", exitCode: null }));
      this.started.push({ request, finish });
    });
  }
}

async function boot(options: { executor?: Executor; parallel?: number; lookupCached?: (job: any) => Promise<any>; path?: string } = {}) {
  const dir = tempDir("seamless-queue-");
  const store = SqliteJobStore.open({ path: options.path ?? ":memory:" });
  const scheduler = await Scheduler.start({
    store, executor: options.executor ?? new LocalExecutor({ graceMs: 200 }), logDir: join(dir.path, "logs"),
    defaultParallel: options.parallel ?? 2, retryPolicy: { baseMs: 10, capMs: 40 }, lookupCached: options.lookupCached,
  });
  cleanups.push(() => dir[Symbol.dispose]());
  cleanups.push(async () => {
    await scheduler.stop();
    store.close();
  });
  return { scheduler, store, dir: dir.path };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("Scheduler runs a plain job and keeps its log and exit code", async () => {
  const { scheduler } = await boot();
  const [job] = scheduler.submit([plain("echo out; echo err >&2; exit 3")]);
  const done = await scheduler.waitFor(job!.id);
  expect(done.state).toBe("failed");
  expect(done.exitCode).toBe(3);
  expect(done.reason).toBe("exit code 3");
  const log = Buffer.from(readLogChunk(scheduler.filesOf(done).log, 0).data).toString();
  expect(log).toBe("out\nerr\n");
});

test("Scheduler picks higher priority first, then submission order", async () => {
  const executor = new ManualExecutor();
  const { scheduler } = await boot({ executor, parallel: 1 });
  const jobs = scheduler.submit([plain("a"), plain("b"), plain("c", { priority: 5 }), plain("d", { priority: 5 }), plain("e", { priority: -1 })]);
  const order: string[] = [];
  for (let i = 0; i < jobs.length; i++) {
    await tick();
    expect(executor.started.length).toBe(i + 1);
    const current = executor.started[i]!;
    order.push(current.request.job.command);
    current.finish({});
    await scheduler.waitFor(current.request.job.id);
  }
  expect(order).toEqual(["c", "d", "a", "b", "e"]);
});

test("Scheduler respects per-group parallel limits", async () => {
  const executor = new ManualExecutor();
  const { scheduler } = await boot({ executor, parallel: 3 });
  scheduler.setGroup("gpu", 1);
  scheduler.submit([plain("g1", { group: "gpu" }), plain("g2", { group: "gpu" }), plain("d1"), plain("d2")]);
  await tick();
  expect(executor.started.map((s) => s.request.job.command).sort()).toEqual(["d1", "d2", "g1"]);
  executor.started[0]!.finish({});
  await scheduler.waitFor(executor.started[0]!.request.job.id);
  await tick();
  expect(executor.started.map((s) => s.request.job.command)).toContain("g2");
});

test("Scheduler pause holds queued jobs and resume releases them", async () => {
  const executor = new ManualExecutor();
  const { scheduler } = await boot({ executor });
  scheduler.pause();
  const [job] = scheduler.submit([plain("x")]);
  await tick();
  expect(executor.started.length).toBe(0);
  expect(scheduler.getJob(job!.id).state).toBe("queued");
  scheduler.resume();
  await tick();
  expect(executor.started.length).toBe(1);
});

test("Scheduler drain starts nothing new and resolves when running jobs end", async () => {
  const executor = new ManualExecutor();
  const { scheduler } = await boot({ executor, parallel: 1 });
  scheduler.submit([plain("first"), plain("second")]);
  await tick();
  let drained = false;
  const drain = scheduler.drain().then(() => (drained = true));
  await tick();
  expect(drained).toBe(false);
  executor.started[0]!.finish({});
  await drain;
  await tick();
  expect(executor.started.length).toBe(1);
});

test("Scheduler dependencies: --after waits for success, a failed dependency fails the dependant with the reason", async () => {
  const { scheduler } = await boot();
  const [first] = scheduler.submit([plain("exit 1")]);
  const [after, any, onFail] = scheduler.submit([
    plain("echo after", { after: [{ id: first!.id, on: "success" }] }),
    plain("echo any", { after: [{ id: first!.id, on: "any" }] }),
    plain("echo fail", { after: [{ id: first!.id, on: "failure" }] }),
  ]);
  expect((await scheduler.waitFor(after!.id)).state).toBe("failed");
  expect(scheduler.getJob(after!.id).reason).toContain(`job ${first!.id} ended failed`);
  expect((await scheduler.waitFor(any!.id)).state).toBe("succeeded");
  expect((await scheduler.waitFor(onFail!.id)).state).toBe("succeeded");
});

test("Scheduler refuses a dependency on an unknown job", async () => {
  const { scheduler } = await boot();
  expect(() => scheduler.submit([plain("true", { after: [{ id: 999, on: "success" }] })])).toThrow("no such job");
});

test("Scheduler retries with backoff and ends dead when every attempt fails", async () => {
  const { scheduler } = await boot();
  const [job] = scheduler.submit([plain("echo try >> tries; exit 2", { retries: 2, workdir: (await boot()).dir })]);
  const done = await scheduler.waitFor(job!.id);
  expect(done.state).toBe("dead");
  expect(done.attempts).toBe(3);
  expect(readFileSync(join(done.workdir, "tries"), "utf8")).toBe("try\ntry\ntry\n");
});

test("Scheduler: a retried job that then succeeds ends succeeded", async () => {
  const { scheduler, dir } = await boot();
  const [job] = scheduler.submit([plain("if [ -e flag ]; then exit 0; fi; touch flag; exit 1", { retries: 3, workdir: dir })]);
  const done = await scheduler.waitFor(job!.id);
  expect(done.state).toBe("succeeded");
  expect(done.attempts).toBe(2);
});

test("Scheduler timeout kills the process group and ends in the timeout state", async () => {
  const { scheduler, dir } = await boot();
  const [job] = scheduler.submit([plain("sleep 1000 & echo $! > child.pid; sleep 1000", { timeoutSeconds: 0.3, workdir: dir })]);
  const done = await scheduler.waitFor(job!.id);
  expect(done.state).toBe("timeout");
  const childPid = Number(readFileSync(join(dir, "child.pid"), "utf8"));
  expect(isProcessAlive(childPid)).toBe(false);
});

test("Scheduler cancel of a queued and of a running job", async () => {
  const { scheduler, dir } = await boot({ parallel: 1 });
  const [running, queued] = scheduler.submit([plain("echo $$ > pid; sleep 1000", { workdir: dir }), plain("true")]);
  expect(scheduler.cancel(queued!.id).state).toBe("canceled");
  while (!existsSync(join(dir, "pid")) || readFileSync(join(dir, "pid"), "utf8") === "") await Bun.sleep(10);
  expect(scheduler.cancel(running!.id).state).toBe("canceled");
  await scheduler.drain();
  const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
  expect(isProcessAlive(pid)).toBe(false);
  expect(() => scheduler.cancel(running!.id)).toThrow("it is canceled");
});

test("Scheduler dedupe: identical jobs in flight share one execution", async () => {
  const executor = new ManualExecutor();
  const { scheduler } = await boot({ executor, parallel: 1 });
  const jobs = scheduler.submit(Array.from({ length: 100 }, () => plain("same", { dedupeKey: "k1" })));
  await tick();
  expect(executor.started.length).toBe(1);
  executor.started[0]!.finish({ resultChecksum: "ab".repeat(32) });
  const done = await Promise.all(jobs.map((job) => scheduler.waitFor(job.id)));
  expect(done.every((job) => job.state === "succeeded" && job.resultChecksum === "ab".repeat(32))).toBe(true);
  expect(executor.started.length).toBe(1);
  expect(done[5]!.attachedTo).toBe(jobs[0]!.id);
});

test("Scheduler dedupe: canceling one member keeps the shared execution for the others", async () => {
  const executor = new ManualExecutor();
  const { scheduler } = await boot({ executor });
  const [a, b] = scheduler.submit([plain("same", { dedupeKey: "k" }), plain("same", { dedupeKey: "k" })]);
  await tick();
  scheduler.cancel(a!.id);
  expect(executor.started[0]!.request.signal.aborted).toBe(false);
  executor.started[0]!.finish({});
  expect((await scheduler.waitFor(b!.id)).state).toBe("succeeded");
});

test("Scheduler completes a job with a cached result without executing", async () => {
  const executor = new ManualExecutor();
  const { scheduler } = await boot({ executor, lookupCached: async (job) => (job.dedupeKey === "known" ? { resultChecksum: "cd".repeat(32) } : null) });
  const [job] = scheduler.submit([plain("x", { dedupeKey: "known" })]);
  const done = await scheduler.waitFor(job!.id);
  expect(done.state).toBe("succeeded");
  expect(done.resultChecksum).toBe("cd".repeat(32));
  expect(done.reason).toBe("answered from cache");
  expect(executor.started.length).toBe(0);
});

test("retryDelayMs() grows exponentially, is jittered and capped", () => {
  const policy = { baseMs: 1000, capMs: 10_000 };
  expect(retryDelayMs(1, policy, 0)).toBe(500);
  expect(retryDelayMs(1, policy, 0.999999)).toBe(1000);
  expect(retryDelayMs(3, policy, 0)).toBe(2000);
  expect(retryDelayMs(30, policy, 0.999999)).toBe(10_000);
});

test("Scheduler re-attaches after a restart to a job that finished meanwhile, and runs queued jobs once", async () => {
  const dir = tempDir("seamless-queue-restart-");
  cleanups.push(() => dir[Symbol.dispose]());
  const path = join(dir.path, "queue.db");
  const logDir = join(dir.path, "logs");
  let store = SqliteJobStore.open({ path });
  // A job that a previous daemon recorded as running; its shell wrote the exit file as it ended.
  const [job, queued] = store.insertJobs([plain("true"), plain("echo ran >> count", { workdir: dir.path })], Date.now());
  store.transition(job!.id, "start", { attempts: 1, startedAt: Date.now(), pid: 2 ** 22 + 7 });
  store.close();
  const { mkdirSync } = await import("node:fs");
  mkdirSync(logDir, { recursive: true });
  writeFileSync(join(logDir, `${job!.id}.exit`), "0\n");
  store = SqliteJobStore.open({ path });
  const scheduler = await Scheduler.start({ store, executor: new LocalExecutor(), logDir, defaultParallel: 2 });
  cleanups.push(async () => (await scheduler.stop(), store.close()));
  expect((await scheduler.waitFor(job!.id)).state).toBe("succeeded");
  expect((await scheduler.waitFor(queued!.id)).state).toBe("succeeded");
  expect(readFileSync(join(dir.path, "count"), "utf8")).toBe("ran\n");
});

test("Scheduler cancel kills a setsid grandchild too (no process of the job survives)", async () => {
  const { scheduler, dir } = await boot();
  const [job] = scheduler.submit([plain("bash -c 'setsid sleep 1000 & echo $! > escapee.pid; sleep 1000'", { workdir: dir })]);
  const pidFile = join(dir, "escapee.pid");
  while (!existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === "") await Bun.sleep(10);
  const escapee = Number(readFileSync(pidFile, "utf8"));
  expect(isProcessAlive(escapee)).toBe(true);
  scheduler.cancel(job!.id);
  await scheduler.drain();
  expect(isProcessAlive(escapee)).toBe(false);
});

test("Scheduler timeout kills a setsid grandchild too", async () => {
  const { scheduler, dir } = await boot();
  const [job] = scheduler.submit([plain("bash -c 'setsid sleep 1000 & echo $! > escapee.pid; sleep 1000'", { workdir: dir, timeoutSeconds: 0.5 })]);
  expect((await scheduler.waitFor(job!.id)).state).toBe("timeout");
  expect(isProcessAlive(Number(readFileSync(join(dir, "escapee.pid"), "utf8")))).toBe(false);
});

test("Scheduler fails a dependant whose dependency was cleaned away", async () => {
  const { scheduler, store } = await boot();
  const [first] = scheduler.submit([plain("true")]);
  await scheduler.waitFor(first!.id);
  scheduler.pause();
  const [dependant] = scheduler.submit([plain("true", { after: [{ id: first!.id, on: "success" }] })]);
  // Seen by a restarted scheduler after `clean` removed the dependency.
  store.deleteFinished(Date.now() + 1000);
  using logs = tempDir();
  const restarted = await Scheduler.start({ store, executor: new LocalExecutor(), logDir: join(logs.path, "logs"), defaultParallel: 1 });
  const done = await restarted.waitFor(dependant!.id);
  expect(done.state).toBe("failed");
  expect(done.reason).toContain(`job ${first!.id} no longer exists`);
  await restarted.stop();
});

test("Scheduler pause ID stops a running job (SIGSTOP) and resume ID continues it", async () => {
  const { scheduler, dir } = await boot();
  const [job] = scheduler.submit([plain("echo $$ > pid; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.05; done; echo done > out", { workdir: dir })]);
  const pidFile = join(dir, "pid");
  while (!existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === "") await Bun.sleep(10);
  const pid = Number(readFileSync(pidFile, "utf8"));
  scheduler.pause({ id: job!.id });
  const stateOf = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0];
  // Delivery is asynchronous: look until the kernel reports it stopped (bounded).
  for (let i = 0; i < 200 && stateOf() !== "T"; i++) await Bun.sleep(10);
  expect(stateOf()).toBe("T");
  expect(scheduler.getJob(job!.id)).toMatchObject({ state: "running", paused: true });
  scheduler.resume({ id: job!.id });
  expect((await scheduler.waitFor(job!.id)).state).toBe("succeeded");
  expect(readFileSync(join(dir, "out"), "utf8")).toBe("done\n");
});
