/** Internal: runs one transformation job of the daemon (its payload is a SUBMIT record). */
import { readFileSync, writeFileSync } from "node:fs";
import { cacheDirOf } from "../../lib/config/mod.ts";
import { UsageError } from "../../lib/errors.ts";
import { RESULT_FILE_VARIABLE } from "../../lib/queue/local-executor.ts";
import { isSubmitRecord, runSubmitRecord } from "../../lib/queue/transformation-job.ts";
import { writeStderr, writeStdout } from "../stdio.ts";
import { withInterrupt } from "../interrupt.ts";

export async function main(argv: string[]): Promise<number> {
  if (argv.length !== 1) throw new UsageError("expected the job file");
  const record = JSON.parse(readFileSync(argv[0]!, "utf8"));
  if (!isSubmitRecord(record)) throw new UsageError(`"${argv[0]}" is not a job file`);
  // A cancel (SIGTERM) aborts the run, so it ends as a `seamless run` does: logged as canceled.
  const checksum = await withInterrupt("seamless queue run-job", (signal) => runSubmitRecord(record, cacheDirOf(process.env), { writeStdout, writeStderr }, signal));
  const resultFile = process.env[RESULT_FILE_VARIABLE];
  if (resultFile) writeFileSync(resultFile, `${checksum}\n`);
  return 0;
}
