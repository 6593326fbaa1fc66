import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { JobCanceledError, JobFailedError, WorkerPool, workerCommand } from "../../../lib/queue/worker-pool.ts";
import { readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { serializePlain, type PlainValue } from "../../../lib/serialize/plain-json.ts";
import { transformationBufferOf } from "../../../lib/transformation/dict.ts";
import { tempDir } from "../../helpers.ts";
import { bashTransformation, checksumOfText } from "../../jobserver-helpers.ts";
import { SILENT_LOG, createLog } from "../../../lib/log.ts";

const dir = tempDir("seamless-pool-");
const store = new BufferDir(dir.path, { layout: "prefix" });
store.ensureExists();
const logs: string[] = [];
const started: string[] = [];
const startedOn = new Map<string, number>();
let pool: WorkerPool;

beforeAll(async () => {
  pool = new WorkerPool({
    workers: 2,
    perWorkerLimit: 2,
    command: workerCommand(["--buffer-dir", dir.path]),
    log: createLog({ write: (text) => logs.push(text.trimEnd()) }),
    onJobStarted: (tf, pid) => {
      started.push(tf);
      startedOn.set(tf, pid);
    },
  });
  await pool.start();
});
afterAll(async () => {
  await pool.close();
  dir[Symbol.dispose]();
});

describe("WorkerPool", () => {
  test("run() executes a bash transformation on a worker and stores its result", async () => {
    const { dict, tf } = await bashTransformation(store, "echo hello");
    expect(tf).toBe("706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550");
    const result = await pool.run({ tfChecksum: tf, dict, scratch: false });
    expect(result.checksum).toBe(checksumOfText("hello\n"));
    expect(Buffer.from((await store.get(result.checksum))!).toString()).toBe("hello\n");
    expect(result.runtime.wallSeconds).toBeGreaterThan(0);
    expect(result.runtime.memoryPeakBytes).toBeGreaterThan(0);
  });

  test("run() rejects a failing command with the bash error text", async () => {
    const { dict, tf } = await bashTransformation(store, "echo oops >&2; exit 3");
    const error = await pool.run({ tfChecksum: tf, dict, scratch: false }).catch((e) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.message).toContain("Error: Return code 3");
    expect(error.message).toContain("oops");
  });

  test("run() names a missing input buffer", async () => {
    const missing = "ab".repeat(32);
    const { dict, tf } = await bashTransformation(store, "cat x");
    dict.x = ["bytes", null, missing];
    const error = await pool.run({ tfChecksum: tf, dict, scratch: false }).catch((e) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.message).toContain(missing);
  });

  test("aborting a running job kills it and frees the slot while the worker's other jobs go on", async () => {
    const sleeper = await bashTransformation(store, "sleep 1000");
    const slow = await bashTransformation(store, "sleep 0.5; echo survived");
    const controller = new AbortController();
    const survivor = pool.run({ tfChecksum: slow.tf, dict: slow.dict, scratch: false });
    const doomed = pool.run({ tfChecksum: sleeper.tf, dict: sleeper.dict, scratch: false }, controller.signal);
    while (!started.includes(sleeper.tf)) await Bun.sleep(5);
    controller.abort();
    expect(await doomed.catch((e) => e)).toBeInstanceOf(JobCanceledError);
    expect(pool.activeJobs).toBe(1);
    expect((await survivor).checksum).toBe(checksumOfText("survived\n"));
  });

  test("a job asking for a remote job directory is refused, not computed", async () => {
    const { dict, tf } = await bashTransformation(store, "echo computed");
    dict.__meta__ = { write_remote_job: "/tmp/somewhere" };
    const error = await pool.run({ tfChecksum: tf, dict, scratch: false }).catch((e) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.message).toContain("__meta__.write_remote_job is not supported");
  });

  test("jobs beyond workers × limit wait and all finish", async () => {
    const jobs = await Promise.all(Array.from({ length: 12 }, (_, i) => bashTransformation(store, `echo ${i}`)));
    const results = await Promise.all(jobs.map(({ dict, tf }) => pool.run({ tfChecksum: tf, dict, scratch: false })));
    expect(results.map((r) => r.checksum)).toEqual(jobs.map((_, i) => checksumOfText(`${i}\n`)));
  });

  test("a worker killed mid-job is restarted and the job retried on another worker", async () => {
    const { dict, tf } = await bashTransformation(store, "sleep 0.3; echo retried");
    const running = pool.run({ tfChecksum: tf, dict, scratch: false });
    while (!started.includes(tf)) await Bun.sleep(5);
    const victim = startedOn.get(tf)!;
    process.kill(victim, "SIGKILL");
    const result = await running;
    expect(result.checksum).toBe(checksumOfText("retried\n"));
    expect(startedOn.get(tf)).not.toBe(victim);
    while (pool.workerPids.some((pid) => pid === null)) await Bun.sleep(10);
    expect(pool.workerPids).not.toContain(victim);
  });

  test("a job whose worker dies twice fails with a message that says so", async () => {
    const { dict, tf } = await bashTransformation(store, "kill -9 $PPID; sleep 5");
    const error = await pool.run({ tfChecksum: tf, dict, scratch: false }).catch((e) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.message).toContain("twice (retried once on another worker)");
    while (pool.workerPids.some((pid) => pid === null)) await Bun.sleep(10);
    const { dict: next, tf: nextTf } = await bashTransformation(store, "echo after");
    expect((await pool.run({ tfChecksum: nextTf, dict: next, scratch: false })).checksum).toBe(checksumOfText("after\n"));
  });
});

describe("WorkerPool environments and Python hand-over (issue 22 §4, §4b)", () => {
  const bin = tempDir("seamless-pool-bin-");
  const record = join(bin.path, "received.txt");
  let limited: WorkerPool;
  const env = (name: string, value: unknown) => {
    const bytes = serializePlain(value as never);
    const checksum = computeChecksum(bytes);
    return { bytes, checksum };
  };

  beforeAll(async () => {
    symlinkSync("/usr/bin/xargs", join(bin.path, "xargs"));
    // A stand-in for Python's seamless-run-transformation: it checks what it receives.
    writeFileSync(join(bin.path, "seamless-run-transformation"), `#!/bin/bash\nprintf '%s\\n' "$@" "$SEAMLESS_REMOTE_CLIENTS" > ${record}\n[ -f dunder.json ] && echo "$(<dunder.json)" >> ${record}\necho ${"ef".repeat(32)}\n`, { mode: 0o755 });
    limited = new WorkerPool({
      workers: 1,
      perWorkerLimit: 2,
      command: workerCommand(["--buffer-dir", dir.path]),
      env: { ...process.env, PATH: bin.path, CONDA_ROOT: "", SEAMLESS_REMOTE_CLIENTS: '{"buffer": [], "database": []}' },
      log: SILENT_LOG,
    });
    await limited.start();
  });
  afterAll(async () => {
    await limited.close();
    bin[Symbol.dispose]();
  });

  test("a docker image the worker cannot provide is a clear error, not a run on the host", async () => {
    const { dict, tf } = await bashTransformation(store, "echo host");
    const docker = env("docker", { docker: { name: "some/image:1" } });
    await store.put(docker.checksum, docker.bytes);
    dict.__env__ = docker.checksum;
    const error = await limited.run({ tfChecksum: tf, dict, scratch: false }).catch((e) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.message).toBe("Cannot provide the execution environment on this jobserver's worker: --docker some/image:1: neither docker nor podman is on PATH");
  });

  test("a conda environment without conda on the worker is a clear error", async () => {
    const { dict, tf } = await bashTransformation(store, "echo conda");
    const conda = env("conda", { conda_environment: "myenv" });
    await store.put(conda.checksum, conda.bytes);
    dict.__env__ = conda.checksum;
    const error = await limited.run({ tfChecksum: tf, dict, scratch: false }).catch((e) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.message).toContain("myenv");
    expect(error.message.toLowerCase()).toContain("conda");
  });

  test("a Python transformation is handed to seamless-run-transformation with SEAMLESS_REMOTE_CLIENTS and its dunders", async () => {
    const code = Buffer.from("result = a + 1\n");
    const a = Buffer.from("41\n");
    await store.put(computeChecksum(code), code);
    await store.put(computeChecksum(a), a);
    const dict: Record<string, PlainValue> = {
      __language__: "python", __output__: ["result", "int", null], code: ["python", "transformer", computeChecksum(code)], a: ["int", null, computeChecksum(a)], __meta__: { x: 1 },
    };
    const { buffer, checksum: tf } = transformationBufferOf(dict);
    const result = await limited.run({ tfChecksum: tf, dict, scratch: false });
    expect(result.checksum).toBe("ef".repeat(32));
    const received = readFileSync(record, "utf8").split("\n");
    expect(received.slice(0, 4)).toEqual([tf, "--dunder", "dunder.json", '{"buffer": [], "database": []}']);
    expect(JSON.parse(received.slice(4).join("\n"))).toEqual({ __meta__: { x: 1 } });
    // The transformation buffer is where the Python runner will look for it.
    expect(Buffer.from((await store.get(tf))!).equals(Buffer.from(buffer))).toBe(true);
  });

  test("without seamless-run-transformation, a Python transformation fails naming what is missing", async () => {
    rmSync(join(bin.path, "seamless-run-transformation"));
    const dict: Record<string, PlainValue> = { __language__: "python", __output__: ["result", "int", null], code: ["python", "transformer", "00".repeat(32)] };
    const tf = transformationBufferOf(dict).checksum;
    const error = await limited.run({ tfChecksum: tf, dict, scratch: false }).catch((e) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error.message).toContain('"seamless-run-transformation" is not on the PATH');
  });
});

describe("boundedFailure()", () => {
  test("keeps a short failure text and both ends of a long one, the middle dropped with a marker", async () => {
    const { boundedFailure } = await import("../../../lib/queue/worker-process.ts");
    expect(boundedFailure("Error: Return code 3")).toBe("Error: Return code 3");
    const long = `Error: Return code 3\n${"e".repeat(10_000_000)}\nlast-words`;
    const bounded = boundedFailure(long);
    expect(bounded.length).toBeLessThan(600_000);
    expect(bounded).toStartWith("Error: Return code 3\n");
    expect(bounded).toEndWith("\nlast-words");
    expect(bounded).toContain(`[... ${long.length - 2 * 256 * 1024} characters omitted ...]`);
  });
});
