import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";
import { connect, JSON_OPTION, parseJobId, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue wait",
  usage: "seamless queue wait [ID… | --all] [--json]",
  summary: "Wait until the jobs have ended (--all or no ID: every job queued or running now). Exit 0 when all succeeded, else 1.",
  positionals: "some",
  options: [{ key: "all", names: ["--all"], kind: "flag", help: "every job queued or running now" }, JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (values.all && positionals.length > 0) throw new UsageError("--all takes no job ids");
  const client = await connect();
  let ids: number[] | null = positionals.length > 0 ? positionals.map(parseJobId) : null;
  for (;;) {
    const answer = await client.wait(ids, 60);
    ids = answer.jobs.map((job) => job.id);
    if (!answer.done) continue;
    if (values.json) printJson(answer.jobs);
    else for (const job of answer.jobs) writeStdout(`${job.id} ${job.state}${job.exit_code === null ? "" : ` (exit ${job.exit_code})`}\n`);
    return answer.jobs.every((job) => job.state === "succeeded") ? 0 : 1;
  }
}
