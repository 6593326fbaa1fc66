import { JOB_STATES, type JobState } from "../../lib/queue/job.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";
import { connect, formatJobTable, JSON_OPTION, parseCount, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue list",
  usage: "seamless queue list [--state S[,S…]] [--group G] [--label L] [--limit N] [--json]",
  summary: "List jobs, newest first (default: the last 50).",
  positionals: "none",
  options: [
    { key: "state", names: ["--state"], kind: "value", metavar: "S", help: `only these states (${JOB_STATES.join(", ")})` },
    { key: "group", names: ["--group"], kind: "value", metavar: "G", help: "only this group" },
    { key: "label", names: ["--label"], kind: "value", metavar: "L", help: "only this label" },
    { key: "limit", names: ["--limit"], kind: "value", metavar: "N", help: "at most N jobs (default 50, at most 1000)" },
    JSON_OPTION,
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const states = values.state === undefined ? undefined : (values.state as string).split(",").filter(Boolean);
  for (const state of states ?? []) if (!(JOB_STATES as readonly string[]).includes(state)) throw new UsageError(`unknown state "${state}"`);
  const limit = values.limit === undefined ? 50 : parseCount(values.limit, "--limit");
  if (limit < 1 || limit > 1000) throw new UsageError("--limit must be from 1 to 1000");
  const client = await connect();
  const page = await client.listJobs({ states: states as JobState[] | undefined, group: values.group as string | undefined, label: values.label as string | undefined, limit });
  if (values.json) printJson(page);
  else writeStdout(formatJobTable(page.jobs));
  return 0;
}
