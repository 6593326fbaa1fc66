import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { connect, JSON_OPTION, parseJobId, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue resume",
  usage: "seamless queue resume [ID | --group G] [--json]",
  summary: "Release what pause held back (and end a drain).",
  positionals: "some",
  options: [{ key: "group", names: ["--group"], kind: "value", metavar: "G", help: "the jobs of this group" }, JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 1 || (positionals.length === 1 && values.group !== undefined)) throw new UsageError("expected one job id or --group G");
  const client = await connect();
  const status = await client.resume({ id: positionals[0] === undefined ? undefined : parseJobId(positionals[0]), group: values.group as string | undefined });
  if (values.json) printJson(status);
  return 0;
}
