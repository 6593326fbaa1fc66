/** Internal: runs one transformation job of the daemon (its payload is a SUBMIT record). */
import { readFileSync, writeFileSync } from "node:fs";
import { cacheDirOf } from "../../lib/config/mod.ts";
import { UsageError } from "../../lib/errors.ts";
import { RESULT_FILE_VARIABLE } from "../../lib/queue/local-executor.ts";
import { isSubmitRecord, runSubmitRecord } from "../../lib/queue/transformation-job.ts";
import { writeStderr, writeStdout } from "../stdio.ts";
import { withInterrupt } from "../interrupt.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";

export const spec: CommandSpec = {
  name: "queue run-job",
  usage: "seamless queue run-job JOB_FILE",
  summary: "Internal: run one transformation job of the queue (its JSON SUBMIT record), as the daemon's job process.",
  positionals: "some",
  options: [],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv, { requirePositionals: true });
  if (typeof parsed === "number") return parsed;
  const [jobFile, ...more] = parsed.positionals;
  if (more.length > 0) throw new UsageError(`expected one job file, not ${parsed.positionals.length}`);
  const record = JSON.parse(readFileSync(jobFile!, "utf8"));
  if (!isSubmitRecord(record)) throw new UsageError(`"${jobFile}" is not a job file`);
  // A cancel (SIGTERM) aborts the run, so it ends as a `seamless run` does: logged as canceled.
  const checksum = await withInterrupt("seamless queue run-job", (signal) => runSubmitRecord(record, cacheDirOf(process.env), { writeStdout, writeStderr }, signal));
  const resultFile = process.env[RESULT_FILE_VARIABLE];
  if (resultFile) writeFileSync(resultFile, `${checksum}\n`);
  return 0;
}
