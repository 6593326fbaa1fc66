import { availableParallelism } from "node:os";
import { cacheDirOf } from "../../lib/config/mod.ts";
import { runQueueFile } from "../../lib/queue/queue-file-runner.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStderr } from "../stdio.ts";
import { createLog } from "../../lib/log.ts";
import { selfCommand } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue",
  usage: "seamless queue [-q]",
  summary:
    "Run the jobs that 'seamless run --qsubmit' appends to $SEAMLESS_QUEUE_FILE (default .seamless-queue), as\n" +
    "Python's seamless-queue does, until 'seamless queue-finish' appends EOF; then delete the file.",
  positionals: "none",
  options: [{ key: "quiet", names: ["-q", "--quiet"], kind: "flag", help: "quiet mode" }],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const quiet = parsed.values.quiet === true;
  // Bare lines, as seamless-queue prints them (cli-spec §7).
  const log = createLog({ write: writeStderr });
  let path = process.env.SEAMLESS_QUEUE_FILE;
  if (path === undefined) {
    path = ".seamless-queue";
    if (!quiet) log.message(0, `SEAMLESS_QUEUE_FILE not defined. Set queue file to '${path}'`);
  }
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await runQueueFile({
    path, quiet, cacheDir: cacheDirOf(process.env), selfCommand: selfCommand(), parallel: availableParallelism(),
    log, signal: interrupt.signal,
  });
  // Ctrl-C ends with 0 and keeps the file, as seamless-queue does.
  return 0;
}
