import { parseOrHelp, type CommandSpec } from "../args.ts";
import { commandLog } from "../output.ts";
import { connect, JSON_OPTION, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue drain",
  usage: "seamless queue drain [--json]",
  summary: "Start nothing new and wait until the running jobs have ended ('resume' starts again).",
  positionals: "none",
  options: [JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const status = await (await connect()).drain();
  if (parsed.values.json) printJson(status);
  else commandLog("queue").message(0, `drained; ${status.counts.queued ?? 0} jobs stay queued`);
  return 0;
}
