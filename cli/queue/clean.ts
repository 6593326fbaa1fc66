import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";
import { connect, JSON_OPTION, parseDuration, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue clean",
  usage: "seamless queue clean [--older-than DURATION] [--json]",
  summary: "Delete ended jobs from the history (all of them, or those that ended longer ago than DURATION: 30m, 12h, 7d).",
  positionals: "none",
  options: [{ key: "olderThan", names: ["--older-than"], kind: "value", metavar: "DURATION", help: "keep jobs that ended more recently" }, JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const olderThan = values.olderThan === undefined ? 0 : parseDuration(values.olderThan as string, "--older-than");
  const answer = await (await connect()).clean(olderThan);
  if (values.json) printJson(answer);
  else writeStdout(`${answer.deleted} jobs deleted\n`);
  return 0;
}
