import { UsageError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/disk/atomic-write.ts";
import { WorkerPool, workerCommand } from "../lib/queue/worker-pool.ts";
import { findPythonRunner } from "../lib/queue/worker-process.ts";
import { createJobserverRecordMode } from "../lib/record/jobserver-record.ts";
import { TransformationRuns, cachedResultLookup, createJobserverHandler } from "../lib/servers/jobserver.ts";
import { openJobserverBackends } from "../lib/servers/jobserver-backends.ts";
import { pythonJsonDumps, readStatusFileBase, serveService } from "../lib/servers/serve.ts";
import { serveFlagsOf, serveOptions } from "./serve-flags.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";
import { writeStdout } from "./stdio.ts";
import { commandLog } from "./output.ts";
import { serverStopSignal } from "./interrupt.ts";

export const spec: CommandSpec = {
  name: "jobserver",
  usage: "seamless jobserver [--port N | --port-range A B] [--host H] [--status-file F] [--timeout S] [--workers N]",
  summary:
    "Run transformations sent over HTTP (the seamless-jobserver protocol) on a pool of worker processes.\n" +
    "Buffer server and database come from the status file's \"parameters\"; without them, the local cache.",
  positionals: "none",
  options: [
    ...serveOptions("5533"),
    { key: "workers", names: ["--workers"], kind: "value", metavar: "N", help: "worker processes (default 1)" },
    { key: "jobsPerWorker", names: ["--jobs-per-worker"], kind: "value", metavar: "N", help: "jobs one worker runs at once (default 3, env SEAMLESS_WORKER_TRANSFORMATION_THROTTLE)" },
    { key: "pythonRunner", names: ["--python-runner"], kind: "value", metavar: "PATH", help: "seamless-run-transformation for Python transformations (env SEAMLESS_PYTHON_RUNNER; default: PATH)" },
  ],
  epilog:
    "--timeout never stops the server while transformations run or wait. Binds 127.0.0.1 unless --host says\n" +
    "otherwise (the Python jobserver binds 0.0.0.0). Clients: SEAMLESS_JOBSERVER=URL seamless run ...",
};

function positiveInteger(value: unknown, flag: string, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, not "${value}"`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const { host, port, statusFile, timeoutSeconds } = serveFlagsOf(values, { port: 5533 });
  const workers = positiveInteger(values.workers, "--workers", 1);
  const perWorkerLimit = positiveInteger(values.jobsPerWorker ?? process.env.SEAMLESS_WORKER_TRANSFORMATION_THROTTLE, "--jobs-per-worker", 3);
  const log = commandLog("jobserver");

  const base = statusFile ? await readStatusFileBase(statusFile) : null;
  const parameters = base?.parameters && typeof base.parameters === "object" ? (base.parameters as Record<string, unknown>) : null;
  const fail = (error: unknown): never => {
    if (base && statusFile) writeFileAtomic(statusFile, `${pythonJsonDumps({ ...base, status: "failed" })}\n`);
    throw error;
  };
  const backends = await openJobserverBackends(parameters, process.env).catch(fail);
  for (const note of backends.notes) log.message(0, note);
  const pythonRunner = (values.pythonRunner as string | undefined) ?? process.env.SEAMLESS_PYTHON_RUNNER;
  const pool = new WorkerPool({
    workers,
    perWorkerLimit,
    command: workerCommand([...backends.workerArgs, ...(pythonRunner ? ["--python-runner", pythonRunner] : [])]),
    env: { ...process.env, ...(backends.remoteClients ? { SEAMLESS_REMOTE_CLIENTS: backends.remoteClients } : {}) },
    log,
  });
  await pool.start().catch(async (error) => {
    await pool.close();
    fail(error);
  });
  const runs = await TransformationRuns.start({
    runner: pool,
    parallel: workers * perWorkerLimit,
    lookupCached: backends.results ? cachedResultLookup(backends.results, backends.store) : undefined,
  });
  const record = backends.recordMode
    ? createJobserverRecordMode({ lookup: backends.bucketProbes, store: backends.store, pythonRunner: () => findPythonRunner(pythonRunner ?? null) })
    : null;
  const handler = createJobserverHandler({ runs, results: backends.results, record, log });
  try {
    const server = await serveService(handler, { host, port, statusFile, timeoutSeconds, log, signal: serverStopSignal(), isBusy: () => handler.activeRuns() > 0 });
    writeStdout(`Welcome to the Seamless jobserver on ${host}:${server.port}\n`);
    log.message(0, `serving on http://${host}:${server.port}: ${workers} worker(s), ${perWorkerLimit} job(s) each; buffers in ${backends.store.location}`);
    await server.stopped;
  } finally {
    await runs.close();
    await pool.close();
    backends.close();
  }
  return 0;
}
