/**
 * `seamless jobserver` (issue 22 §5): throughput of 1,000 distinct `echo N` from 8 concurrent
 * clients on `--workers 2`, against the same kind of transformations run one by one in-process
 * (the `seamless run` execution code, no HTTP, no workers); one job on an idle server against
 * one local execution; cancel of a running `sleep 1000` until the next job is answered; 200
 * answers from the result cache.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BufferDir } from "../../lib/buffers/bufferdir.ts";
import { computeChecksum } from "../../lib/checksum/sha256.ts";
import { JobserverClient } from "../../lib/clients/jobserver.ts";
import { executeBashTransformation } from "../../lib/execute/execute-bash.ts";
import { transformationBufferOf } from "../../lib/transformation/dict.ts";
import type { PlainValue } from "../../lib/serialize/plain-json.ts";
import { makeServiceRequest } from "../../lib/servers/http.ts";
import { TransformationRuns, cachedResultLookup, createJobserverHandler } from "../../lib/servers/jobserver.ts";
import { openJobserverBackends } from "../../lib/servers/jobserver-backends.ts";
import { BINARY, median, removeDir, report, scratchDir } from "./harness.ts";
import { SILENT_LOG } from "../../lib/log.ts";

const JOBS = Number(process.env.BENCH_JOBSERVER_JOBS ?? 1000);
const CLIENTS = 8;

async function transformation(store: BufferDir, command: string): Promise<{ dict: Record<string, PlainValue>; tf: string }> {
  const code = Buffer.from(`(\n${command}\n) > RESULT\n`);
  await store.put(computeChecksum(code), code);
  const dict: Record<string, PlainValue> = { __language__: "bash", __output__: ["result", "bytes", null], code: ["text", null, computeChecksum(code)] };
  return { dict, tf: transformationBufferOf(dict).checksum };
}

async function startJobserver(dir: string, args: string[], env: Record<string, string | undefined>, binary = BINARY) {
  const statusFile = join(dir, `status-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(statusFile, "{}");
  const child = Bun.spawn([binary, "jobserver", "--port", "0", "--status-file", statusFile, ...args], { env, stdout: "ignore", stderr: "inherit" });
  for (;;) {
    if (existsSync(statusFile)) {
      try {
        const status = JSON.parse(readFileSync(statusFile, "utf8"));
        if (status.status === "running") return { child, client: new JobserverClient(`http://127.0.0.1:${status.port}`) };
      } catch {}
    }
    if (child.exitCode !== null) throw new Error("jobserver exited");
    await Bun.sleep(20);
  }
}

/** CPU milliseconds of a process: its own, and that of its reaped children. */
function cpuOf(pid: number | "self"): { own: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    const ms = (ticks: number) => ticks * 10; // USER_HZ is 100 on Linux
    return { own: ms(fields[11]! + fields[12]!), children: ms(fields[13]! + fields[14]!) };
  } catch {
    return { own: 0, children: 0 };
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Where the CPU of a batch went, per job: the jobserver, its workers, the workers' commands
 * (bash and whatever it ran, counted when reaped) and this process (the 8 HTTP clients).
 */
function cpuMeter(serverPid: number) {
  const sample = () => {
    const workers = childrenOf(serverPid).map((pid) => cpuOf(pid));
    return {
      server: cpuOf(serverPid).own,
      workers: workers.reduce((sum, cpu) => sum + cpu.own, 0),
      commands: workers.reduce((sum, cpu) => sum + cpu.children, 0),
      client: cpuOf("self").own,
    };
  };
  const before = sample();
  return (jobs: number) => {
    const after = sample();
    const per = (key: keyof typeof before) => (after[key] - before[key]) / jobs;
    const total = per("server") + per("workers") + per("commands") + per("client");
    return `CPU per job: jobserver ${per("server").toFixed(1)} ms, workers ${per("workers").toFixed(1)}, their commands ${per("commands").toFixed(1)}, clients ${per("client").toFixed(1)}; total ${total.toFixed(1)} ms`;
  };
}

const request = (job: { dict: Record<string, PlainValue>; tf: string }) => ({ transformation_dict: job.dict, tf_checksum: job.tf, tf_dunder: {}, scratch: false, record: false });

async function runConcurrently(client: JobserverClient, jobs: { dict: Record<string, PlainValue>; tf: string }[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < jobs.length) await client.runTransformation(request(jobs[next++]!));
  }));
  return (performance.now() - started) / 1000;
}

console.log(`load average: ${(await import("node:os")).loadavg().map((n) => n.toFixed(1)).join(" ")} (2 cores, shared)`);
const dir = scratchDir("jobserver");
const cacheDir = join(dir, "cache");
const env = { ...process.env, SEAMLESS_CACHE: cacheDir, NO_COLOR: "1" };
const store = new BufferDir(join(cacheDir, "__TOPLEVEL__"), { layout: "prefix" });
store.ensureExists();
const servers: { child: ReturnType<typeof Bun.spawn> }[] = [];
try {
  // In-process baseline: the local execution code, one transformation after the other.
  const local = await Promise.all(Array.from({ length: JOBS }, (_, i) => transformation(store, `echo local ${i}`)));
  const localCpu = cpuOf("self");
  const localStarted = performance.now();
  for (const { dict } of local) {
    const result = await executeBashTransformation(dict, store, { onStdoutLine: () => {} });
    if (result.buffer) await store.put(result.checksum, result.buffer);
  }
  const localSeconds = (performance.now() - localStarted) / 1000;
  const localCpuAfter = cpuOf("self");
  console.log(`  in-process loop: ${(1000 * localSeconds / JOBS).toFixed(1)} ms per job; CPU per job: this process ${((localCpuAfter.own - localCpu.own) / JOBS).toFixed(1)} ms, commands ${((localCpuAfter.children - localCpu.children) / JOBS).toFixed(1)} ms`);

  // With BENCH_JOBSERVER_BASELINE=<another seamless binary>, the same load on it, alternating
  // with this build in the same run (the machine is shared: only same-run ratios mean much).
  const baseline = process.env.BENCH_JOBSERVER_BASELINE;
  const builds = baseline ? [["baseline", baseline], ["this build", BINARY], ["baseline", baseline], ["this build", BINARY]] : [["this build", BINARY]];
  const rates = new Map<string, number[]>();
  let pool: Awaited<ReturnType<typeof startJobserver>> | null = null;
  let ranHere: Awaited<ReturnType<typeof transformation>>[] = [];
  for (const [round, [name, binary]] of builds.entries()) {
    const server = await startJobserver(dir, ["--workers", "2"], env, binary);
    servers.push(server);
    const count = Math.round(JOBS / (builds.length / (baseline ? 2 : 1)));
    const jobs = await Promise.all(Array.from({ length: count }, (_, i) => transformation(store, `echo ${round} ${i}`)));
    await server.client.runTransformation(request(await transformation(store, `echo warm-up ${round}`)));
    const meter = cpuMeter(server.child.pid);
    const rate = count / (await runConcurrently(server.client, jobs));
    rates.set(name!, [...(rates.get(name!) ?? []), rate]);
    console.log(`  ${name}: ${count} jobs, ${rate.toFixed(0)} jobs/s; ${meter(count)}`);
    if (binary === BINARY) [pool, ranHere] = [server, jobs];
  }
  const rate = median(rates.get("this build")!);
  const versus = baseline ? `, ${(rate / median(rates.get("baseline")!)).toFixed(2)}× the baseline's ${median(rates.get("baseline")!).toFixed(0)}/s` : "";
  report(`${JOBS} distinct echo N, 8 clients, --workers 2`, `${rate.toFixed(0)} jobs/s (in-process loop ${(JOBS / localSeconds).toFixed(0)}/s, ratio ${(rate / (JOBS / localSeconds)).toFixed(2)}${versus})`, ">= 200 jobs/s", rate >= 200);
  if (!pool) throw new Error("no jobserver of this build");
  // Cache hits: the same transformations again, answered from the jobserver's seamless.db.
  const hits = ranHere.slice(0, 200);
  const hitRates: number[] = [];
  for (let round = 0; round < 5; round++) hitRates.push(hits.length / (await runConcurrently(pool.client, hits)));
  const hitRate = median(hitRates);
  // The same answers from the handler in this process (no sockets): the server's own cost.
  const backends = await openJobserverBackends(null, env);
  const runs = await TransformationRuns.start({ runner: { run: () => Promise.reject(new Error("not expected to run")) }, parallel: 1, lookupCached: cachedResultLookup(backends.results!, backends.store) });
  const handler = createJobserverHandler({ runs, results: null, record: null, log: SILENT_LOG });
  const inProcessRates: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    for (const job of hits) {
      const response = await handler(makeServiceRequest("GET", "/run-transformation", JSON.stringify(request(job))));
      if (response.status !== 200) throw new Error(`cache answer: ${response.status}`);
    }
    inProcessRates.push(hits.length / ((performance.now() - started) / 1000));
  }
  await runs.close();
  backends.close();
  report(`${hits.length} answers from the result cache (median of 5)`, `${hitRate.toFixed(0)} /s over HTTP; handler alone ${median(inProcessRates).toFixed(0)} /s`, ">= 2,000/s", hitRate >= 2000);

  // One job on an idle server against one local execution.
  const remoteTimes: number[] = [];
  const localTimes: number[] = [];
  for (let i = 0; i < 21; i++) {
    const remote = await transformation(store, `echo idle ${i}`);
    const own = await transformation(store, `echo own ${i}`);
    await Bun.sleep(20);
    let started = performance.now();
    await pool.client.runTransformation(request(remote));
    remoteTimes.push(performance.now() - started);
    started = performance.now();
    const result = await executeBashTransformation(own.dict, store, { onStdoutLine: () => {} });
    if (result.buffer) await store.put(result.checksum, result.buffer);
    localTimes.push(performance.now() - started);
  }
  const overhead = median(remoteTimes) - median(localTimes);
  report("one job, idle server, vs local execution", `+${overhead.toFixed(1)} ms (${median(remoteTimes).toFixed(1)} vs ${median(localTimes).toFixed(1)} ms)`, "<= 10 ms", overhead <= 10);

  // Cancel: one worker with one slot runs `sleep 1000`; the next job waits for the slot.
  const single = await startJobserver(dir, ["--workers", "1", "--jobs-per-worker", "1"], env);
  servers.push(single);
  const cancelTimes: number[] = [];
  const echoTimes: number[] = [];
  for (let i = 0; i < 7; i++) {
    const sleeper = await transformation(store, `sleep 1000 # ${i}`);
    const next = await transformation(store, `echo next ${i}`);
    const alone = await transformation(store, `echo alone ${i}`);
    let started = performance.now();
    await single.client.runTransformation(request(alone));
    echoTimes.push(performance.now() - started);
    const running = single.client.runTransformation(request(sleeper)).catch(() => null);
    while ((await single.client.transformationStatus(sleeper.tf)) !== "running") await Bun.sleep(5);
    await Bun.sleep(50);
    const waiting = single.client.runTransformation(request(next));
    await Bun.sleep(20);
    started = performance.now();
    await single.client.cancelTransformation(sleeper.tf);
    await waiting;
    cancelTimes.push(performance.now() - started);
    await running;
  }
  const slotFree = median(cancelTimes) - median(echoTimes);
  report("cancel of sleep 1000 until the next job runs", `${slotFree.toFixed(1)} ms (cancel→next answered ${median(cancelTimes).toFixed(1)} ms, minus a lone echo ${median(echoTimes).toFixed(1)} ms)`, "<= 100 ms", slotFree <= 100);
} finally {
  for (const { child } of servers) {
    child.kill("SIGTERM");
    await child.exited;
  }
  store.close();
  removeDir(dir);
}
