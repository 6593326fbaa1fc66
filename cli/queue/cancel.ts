import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";
import { connect, JSON_OPTION, parseJobId, printJson } from "./_common.ts";
import { commandLog } from "../output.ts";

export const spec: CommandSpec = {
  name: "queue cancel",
  usage: "seamless queue cancel ID… [--json]",
  summary: "Cancel queued or running jobs; a running job's whole process tree is killed (SIGTERM, then SIGKILL).",
  positionals: "some",
  options: [JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError("expected one or more job ids");
  const ids = positionals.map(parseJobId);
  const client = await connect();
  const jobs = [];
  let failed = false;
  for (const id of ids) {
    try {
      jobs.push(await client.cancel(id));
    } catch (error) {
      if (ids.length === 1) throw error;
      failed = true;
      commandLog("queue cancel").error((error as Error).message);
    }
  }
  if (values.json) printJson(jobs);
  else for (const job of jobs) writeStdout(`${job.id} canceled\n`);
  return failed ? 1 : 0;
}
