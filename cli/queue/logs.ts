import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";
import { connect, parseCount, parseJobId } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue logs",
  usage: "seamless queue logs ID [--follow] [--from OFFSET]",
  summary: "Print a job's output (stdout and stderr as written; long logs keep their head and tail, also while the job runs, with a line saying how many bytes were omitted). --follow streams until the job ends.",
  positionals: "some",
  options: [
    { key: "follow", names: ["-f", "--follow"], kind: "flag", help: "keep printing until the job ends" },
    { key: "from", names: ["--from"], kind: "value", metavar: "OFFSET", help: "start at this offset in the bytes the job wrote (omitted bytes count; from inside them, the omitted line and the kept tail)" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected one job id");
  const client = await connect();
  const stream = await client.logs(parseJobId(positionals[0]!), { follow: values.follow === true, from: values.from === undefined ? 0 : parseCount(values.from, "--from") });
  for await (const chunk of stream) writeStdout(chunk);
  return 0;
}
