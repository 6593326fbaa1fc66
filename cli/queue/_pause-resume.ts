/** `pause` and `resume` take the same target (one job, one group, or the whole queue). */
import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { connect, JSON_OPTION, parseJobId, printJson } from "./_common.ts";

/** The flag table and entry point of `pause` or `resume`. */
export function pauseResumeVerb(verb: "pause" | "resume", summary: string): { spec: CommandSpec; main: (argv: string[]) => Promise<number> } {
  const spec: CommandSpec = {
    name: `queue ${verb}`,
    usage: `seamless queue ${verb} [ID | --group G] [--json]`,
    summary,
    positionals: "some",
    options: [{ key: "group", names: ["--group"], kind: "value", metavar: "G", help: "the jobs of this group" }, JSON_OPTION],
  };
  const main = async (argv: string[]): Promise<number> => {
    const parsed = parseOrHelp(spec, argv);
    if (typeof parsed === "number") return parsed;
    const { values, positionals } = parsed;
    if (positionals.length > 1 || (positionals.length === 1 && values.group !== undefined)) throw new UsageError("expected one job id or --group G");
    const target = { id: positionals[0] === undefined ? undefined : parseJobId(positionals[0]), group: values.group as string | undefined };
    const client = await connect();
    const status = verb === "pause" ? await client.pause(target) : await client.resume(target);
    if (values.json) printJson(status);
    return 0;
  };
  return { spec, main };
}
