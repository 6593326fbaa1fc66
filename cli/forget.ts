import { UsageError } from "../lib/errors.ts";
import { tryParseChecksum } from "../lib/checksum/checksum.ts";
import { cacheDirOf } from "../lib/config/mod.ts";
import { forgetResults, transformationsNamedBy } from "../lib/gc/forget.ts";
import { type CommandSpec, parseOrHelp } from "./args.ts";
import { spec as runSpec } from "./run.ts";
import { NOT_FOR_INSPECTION, runRequestOf } from "./run-request.ts";
import { prepareCommand } from "../lib/execute/prepare-command.ts";
import { writeStdout } from "./stdio.ts";
import { commandLog } from "./output.ts";

export const spec: CommandSpec = {
  name: "forget",
  usage: "seamless forget CHECKSUM...\n       seamless forget [run flags] -- 'COMMAND'",
  summary:
    "Drop cached results, so that the next run executes. CHECKSUM is a transformation checksum, or a result\n" +
    "checksum (every transformation with that result is forgotten). With '-- COMMAND', the transformation is\n" +
    "built from the command line as 'seamless run' would (same flags). Buffers stay; 'seamless gc' removes\n" +
    "those no result needs.",
  positionals: "some",
  options: [{ key: "json", names: ["--json"], kind: "flag", help: "JSON output" }, ...runSpec.options.filter((option) => !NOT_FOR_INSPECTION.has(option.key))],
};

export async function main(argv: string[]): Promise<number> {
  const dashes = argv.indexOf("--");
  const parsed = parseOrHelp(spec, argv, { requirePositionals: true });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const cacheDir = cacheDirOf(process.env);
  let tfChecksums: string[];
  if (dashes >= 0) {
    const prepared = await prepareCommand(runRequestOf(values, positionals), cacheDir, commandLog("forget"));
    tfChecksums = [prepared.tfChecksum];
  } else {
    tfChecksums = positionals.flatMap((argument) => {
      const checksum = tryParseChecksum(argument);
      if (!checksum) throw new UsageError(`"${argument}" is not a checksum`, { hint: "to forget a command's result: seamless forget -- 'COMMAND'" });
      return transformationsNamedBy(cacheDir, checksum);
    });
  }
  const forgotten = forgetResults(cacheDir, tfChecksums);
  if (values.json) writeStdout(`${JSON.stringify(forgotten.map((row) => ({ tf_checksum: row.tfChecksum, result_checksum: row.resultChecksum })), null, 2)}\n`);
  else for (const row of forgotten) writeStdout(`forgot result ${row.resultChecksum} of transformation ${row.tfChecksum}\n`);
  if (forgotten.length === 0) commandLog("forget").message(0, "nothing cached to forget");
  return 0;
}
