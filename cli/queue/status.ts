import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";
import { connect, formatJob, JSON_OPTION, parseJobId, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue status",
  usage: "seamless queue status [ID] [--json]",
  summary: "Show one job (state, exit code, result, times), or without ID the daemon: mode, counts per state, groups.",
  positionals: "some",
  options: [JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError("expected at most one job id");
  const client = await connect();
  if (positionals.length === 1) {
    const job = await client.getJob(parseJobId(positionals[0]!));
    if (values.json) printJson(job);
    else writeStdout(formatJob(job));
    return 0;
  }
  const status = await client.status();
  if (values.json) printJson(status);
  else {
    const counts = Object.entries(status.counts).map(([state, n]) => `${state} ${n}`).join(", ") || "no jobs";
    const groups = status.groups.map((g) => `  ${g.name}: ${g.running}/${g.parallel} running, ${g.ready} ready${g.paused ? ", paused" : ""}`);
    writeStdout(`daemon ${status.pid} (seamless ${status.version}), ${status.mode}\njobs: ${counts}\ngroups:\n${groups.join("\n")}\n`);
  }
  return 0;
}
