/**
 * `seamless queue VERB`: the verb table (one file per verb in cli/queue/). Without a verb, the
 * queue file of `seamless run --qsubmit` is processed as Python's seamless-queue does.
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import type { CommandMain } from "./main.ts";
import { writeStdout } from "./stdio.ts";

/** The verb table (exported for the usage test that walks every verb). */
export const VERBS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {
  start: { summary: "run the queue daemon", load: async () => (await import("./queue/start.ts")).main },
  stop: { summary: "stop the daemon (running jobs are queued again)", load: async () => (await import("./queue/stop.ts")).main },
  submit: { summary: "queue a command (a cached transformation, or --plain)", load: async () => (await import("./queue/submit.ts")).main },
  status: { summary: "one job, or the daemon", load: async () => (await import("./queue/status.ts")).main },
  list: { summary: "list jobs", load: async () => (await import("./queue/list.ts")).main },
  cancel: { summary: "cancel jobs (kills their process trees)", load: async () => (await import("./queue/cancel.ts")).main },
  logs: { summary: "print or follow a job's output", load: async () => (await import("./queue/logs.ts")).main },
  wait: { summary: "wait for jobs to end", load: async () => (await import("./queue/wait.ts")).main },
  pause: { summary: "hold back jobs (a running job is stopped)", load: async () => (await import("./queue/pause.ts")).main },
  resume: { summary: "release held-back jobs", load: async () => (await import("./queue/resume.ts")).main },
  drain: { summary: "start nothing new, wait for running jobs", load: async () => (await import("./queue/drain.ts")).main },
  clean: { summary: "delete ended jobs from the history", load: async () => (await import("./queue/clean.ts")).main },
  group: { summary: "group add NAME --parallel N", load: async () => (await import("./queue/group.ts")).main },
  "run-job": { summary: "", load: async () => (await import("./queue/run-job.ts")).main },
};

function usage(): string {
  const rows = Object.entries(VERBS).filter(([, v]) => v.summary).map(([name, { summary }]) => `  ${name.padEnd(9)}${summary}`);
  return `Usage: seamless queue [VERB] [options]

A durable job queue: priorities, groups with parallel limits, dependencies, retries, timeouts that
kill the whole process tree, cancel, logs, an HTTP API, crash recovery. State lives in
<cache dir>/queue/ ($SEAMLESS_QUEUE_DIR). Each verb has --help and --json.

Verbs:
${rows.join("\n")}

Without a verb: run the jobs of the queue file ($SEAMLESS_QUEUE_FILE, default .seamless-queue)
written by 'seamless run --qsubmit', until 'seamless queue-finish' (as seamless-queue does).
`;
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === "-h" || verb === "--help" || verb === "help") {
    writeStdout(usage());
    return 0;
  }
  if (verb === undefined || verb.startsWith("-")) return (await import("./queue/file.ts")).main(argv);
  const entry = VERBS[verb];
  if (!entry) throw new UsageError(`Unknown queue verb "${verb}"`);
  try {
    return await (await entry.load())(rest);
  } catch (error) {
    // Errors keep the prefix "seamless queue"; the help pointer names the verb.
    if (error instanceof UsageError) error.command ??= `queue ${verb}`;
    throw error;
  }
}
