import { UsageError } from "../../lib/errors.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { connect, JSON_OPTION, parseCount, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue group",
  usage: "seamless queue group add NAME --parallel N [--json]",
  summary: "Create a group (or change its limit): at most N of its jobs run at once.",
  positionals: "some",
  options: [{ key: "parallel", names: ["--parallel"], kind: "value", metavar: "N", help: "parallel limit (at least 1)" }, JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals[0] !== "add" || positionals.length !== 2) throw new UsageError("expected: group add NAME --parallel N");
  if (values.parallel === undefined) throw new UsageError("--parallel N is required");
  const parallel = parseCount(values.parallel, "--parallel");
  if (parallel < 1) throw new UsageError("--parallel must be at least 1");
  const group = await (await connect()).setGroup(positionals[1]!, parallel);
  if (values.json) printJson(group);
  return 0;
}
