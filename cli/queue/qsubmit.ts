/** `seamless run --qsubmit`: append the prepared job to the queue file (cli-spec §3.14, §7). */
import { SeamlessError } from "../../lib/errors.ts";
import type { SeamlessConfig } from "../../lib/config/mod.ts";
import { storePreparedBuffers } from "../../lib/execute/run-bash.ts";
import { appendQueueRecord } from "../../lib/queue/queue-file.ts";
import { submitRecordOf } from "../../lib/queue/transformation-job.ts";
import type { PreparedBash } from "../../lib/transformation/prepare-bash.ts";
import type { Log } from "../../lib/log.ts";

/** What `seamless run` hands over. */
export interface QsubmitOptions {
  /** The arguments after `run`, for `original_command`. */
  argv: string[];
  /** The voice of `seamless run`. */
  log: Log;
  /** The cwd, or the raw `-w` value (as Python records it). */
  workdir: string;
  confirm: string | undefined;
  scratch: boolean;
  download: boolean;
  config: SeamlessConfig;
}

/** Stores the job's buffers and appends its SUBMIT record; returns the exit code. */
export async function submitToQueueFile(prepared: PreparedBash, options: QsubmitOptions): Promise<number> {
  const { log } = options;
  if (!prepared.resultTargets) throw new SeamlessError("Submit to a queue, but no capture/download targets. Refuse to print output to screen.");
  let autoConfirm: "yes" | "no" = "no";
  if (options.confirm === "yes" || options.confirm === "no") autoConfirm = options.confirm;
  else log.message(1, `auto_confirm must be 'yes' or 'no' for a queue job; set to 'no'`);
  await storePreparedBuffers(prepared, options.config, log);
  const record = submitRecordOf(prepared, `seamless-run ${options.argv.join(" ")}`, {
    workdir: options.workdir, scratch: options.scratch, download: options.download, auto_confirm: autoConfirm,
  });
  const queueFile = process.env.SEAMLESS_QUEUE_FILE ?? ".seamless-queue";
  await appendQueueRecord(queueFile, record, log);
  log.message(1, "Command submitted to queue file");
  return 0;
}
