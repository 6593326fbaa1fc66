/**
 * `seamless queue` without a verb: runs the jobs of a queue file as Python's seamless-queue
 * does (cli-spec §7: the same stderr messages, results in each job's workdir, stop at EOF,
 * delete the file), through the same engine as the daemon: a {@link Scheduler} over an
 * in-memory store and the local executor.
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalExecutor } from "./local-executor.ts";
import { shellQuote } from "../execute/workspace.ts";
import { QueueFileReader } from "./queue-file.ts";
import { Scheduler } from "./scheduler.ts";
import { SqliteJobStore } from "./sqlite-store.ts";
import { dedupeKeyOf, SUBMIT_PARAM_KEYS, type SubmitRecord } from "./transformation-job.ts";
import { defaultJobSpec, type Job } from "./job.ts";
import type { Log } from "../log.ts";

/** Options of {@link runQueueFile}. */
export interface QueueFileRunOptions {
  path: string;
  quiet: boolean;
  cacheDir: string;
  /** How this binary is started again (each job runs `… queue run-job FILE`). */
  selfCommand: string[];
  /** Jobs run at once (Python has no limit; we use the number of cores). */
  parallel: number;
  /** Where the jobs' reports go (bare lines on stderr, as seamless-queue prints them). */
  log: Log;
  /** Ctrl-C: stop reading, kill running jobs, keep the file. */
  signal: AbortSignal;
  /** Between looks at the file (Python: 0.1 s). */
  pollMs?: number;
}

function isWellFormed(record: Record<string, unknown>): record is Record<string, unknown> & SubmitRecord {
  const params = record.params as Record<string, unknown> | undefined;
  return typeof record.transformation_checksum === "string" && !!record.transformation_dict && typeof record.transformation_dict === "object" &&
    "result_targets" in record && !!params && typeof params === "object" && SUBMIT_PARAM_KEYS.every((key) => key in params) &&
    (params.auto_confirm === "yes" || params.auto_confirm === "no");
}

/**
 * Processes a queue file until its EOF record and every job has ended.
 *
 * @returns true when the file was processed to its end (and deleted), false when interrupted
 */
export async function runQueueFile(options: QueueFileRunOptions): Promise<boolean> {
  const pollMs = options.pollMs ?? 100;
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    options.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
  for (;;) {
    if (options.signal.aborted) return false;
    try {
      readFileSync(options.path, { flag: "r" }).length;
      break;
    } catch {
      await sleep(500);
    }
  }
  const workDir = mkdtempSync(join(tmpdir(), "seamless-queue-file-"));
  const store = SqliteJobStore.open({ path: ":memory:" });
  const executor = new LocalExecutor({
    processOf: (job, files) => {
      const payloadPath = files.log.replace(/\.log$/, ".job.json");
      writeFileSync(payloadPath, JSON.stringify(job.payload));
      return { command: [...options.selfCommand, "queue", "run-job", payloadPath].map(shellQuote).join(" "), cwd: job.workdir, env: { SEAMLESS_CACHE: options.cacheDir } };
    },
  });
  const scheduler = await Scheduler.start({ store, executor, logDir: join(workDir, "logs"), defaultParallel: options.parallel });
  const reader = new QueueFileReader(options.path);
  const pending: Promise<void>[] = [];
  let jobCount = 0;
  let eof = false;
  const report = (job: Job, number: number, command: string) => {
    const header = `*** Job ${number}: ${command} ***\n`;
    let log = "";
    try {
      log = readFileSync(scheduler.filesOf(job).log, "utf8").trimEnd();
    } catch {}
    if (job.state === "succeeded") {
      if (log) options.log.message(0, `${header}${log}`);
      if (!options.quiet) options.log.message(0, `*** Job ${number}: ${command}, FINISHED ***`);
    } else if (job.state !== "canceled") {
      options.log.message(0, `*** Job ${number}: ${command}, EXCEPTION ***\n${log || job.reason}`);
    }
  };
  try {
    while (!eof && !options.signal.aborted) {
      for (const entry of reader.read()) {
        if (entry.kind === "error") {
          options.log.error(`ERROR: ${entry.message}`);
          continue;
        }
        const { record } = entry;
        if (record.queue_command === "EOF") {
          eof = true;
          continue;
        }
        if (record.queue_command !== "SUBMIT") continue;
        const number = ++jobCount;
        const command = String(record.original_command ?? "");
        if (!isWellFormed(record)) {
          options.log.message(0, `\n*** Job ${number}: ${command} ***\nMalformed command\n`);
          continue;
        }
        if (!options.quiet) options.log.message(0, `Job ${number}, run command:\n${command}\n`);
        const [job] = scheduler.submit([{
          ...defaultJobSpec(command), workdir: record.params.workdir, payload: record, dedupeKey: dedupeKeyOf(record),
        }]);
        pending.push(scheduler.waitFor(job!.id).then((done) => report(done, number, command)));
      }
      if (!eof) await sleep(pollMs);
    }
    if (options.signal.aborted) return false;
    await Promise.race([Promise.all(pending), new Promise((resolve) => options.signal.addEventListener("abort", resolve, { once: true }))]);
    if (options.signal.aborted) return false;
    rmSync(options.path, { force: true });
    return true;
  } finally {
    await scheduler.stop();
    store.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}
