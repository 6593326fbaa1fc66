import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import type { JobRequest } from "../../lib/wire/queue.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { writeStdout } from "../stdio.ts";
import { connect, JSON_OPTION, parseCount, parseDuration, parseJobId, printJson } from "./_common.ts";

export const spec: CommandSpec = {
  name: "queue submit",
  usage: "seamless queue submit [options] -- 'COMMAND'   |   seamless queue submit --batch FILE|- [options]",
  summary:
    "Queue a command and print its job id. By default the command is a seamless run transformation: its inputs\n" +
    "are hashed now, identical jobs run once and a known result completes the job at once; --plain runs any\n" +
    "command uncached. Starts the daemon when it is not running.",
  positionals: "some",
  options: [
    { key: "priority", names: ["--priority"], kind: "value", metavar: "N", help: "higher runs first (default 0)" },
    { key: "retries", names: ["--retries"], kind: "value", metavar: "N", help: "attempts after a failure or timeout (default 0)" },
    { key: "timeout", names: ["--timeout"], kind: "value", metavar: "S", help: "kill the job after this long (90, 30s, 15m, 2h)" },
    { key: "after", names: ["--after"], kind: "values", metavar: "ID", help: "start after job ID succeeded (repeatable)" },
    { key: "afterAny", names: ["--after-any"], kind: "values", metavar: "ID", help: "start after job ID ended in any state" },
    { key: "afterFail", names: ["--after-fail"], kind: "values", metavar: "ID", help: "start after job ID failed" },
    { key: "group", names: ["--group"], kind: "value", metavar: "G", help: "group (its own parallel limit; default 'default')" },
    { key: "label", names: ["--label"], kind: "value", metavar: "L", help: "free-form label, for list filters" },
    { key: "plain", names: ["--plain"], kind: "flag", help: "run the command as is, uncached" },
    { key: "batch", names: ["--batch"], kind: "value", metavar: "FILE", help: "one command per line ('-': stdin), same options for each" },
    JSON_OPTION,
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const base: Omit<JobRequest, "command"> = { plain: values.plain === true, workdir: resolve(".") };
  if (values.priority !== undefined) base.priority = parseCount(values.priority, "--priority");
  if (values.retries !== undefined) base.retries = parseCount(values.retries, "--retries");
  if (values.timeout !== undefined) base.timeout = parseDuration(values.timeout as string, "--timeout");
  if (base.timeout === 0) throw new UsageError("--timeout must be positive");
  const ids = (key: string) => ((values[key] as string[] | undefined) ?? []).map(parseJobId);
  base.after = ids("after");
  base.after_any = ids("afterAny");
  base.after_fail = ids("afterFail");
  if (values.group !== undefined) base.group = values.group as string;
  if (values.label !== undefined) base.label = values.label as string;
  let commands: string[];
  if (values.batch !== undefined) {
    if (positionals.length > 0) throw new UsageError("--batch takes the commands from FILE, not from arguments");
    const text = readFileSync(values.batch === "-" ? 0 : (values.batch as string), "utf8");
    commands = text.split("\n").filter((line) => line.trim() !== "");
    if (commands.length === 0) throw new UsageError("--batch: no commands");
  } else {
    if (positionals.length === 0) throw new UsageError("expected a command (seamless queue submit -- 'COMMAND')");
    commands = [positionals.join(" ")];
  }
  const client = await connect(true);
  const jobs = values.batch !== undefined
    ? await client.submitBatch(commands.map((command) => ({ ...base, command })))
    : [await client.submit({ ...base, command: commands[0]! })];
  if (values.json) printJson(values.batch !== undefined ? jobs : jobs[0]);
  else writeStdout(`${jobs.map((job) => job.id).join("\n")}\n`);
  return 0;
}
