import { existsSync } from "node:fs";
import { appendEofRecord } from "../lib/queue/queue-file.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";

export const spec: CommandSpec = {
  name: "queue-finish",
  usage: "seamless queue-finish",
  summary:
    "Append the EOF record to $SEAMLESS_QUEUE_FILE (default .seamless-queue), creating it if needed, and\n" +
    "wait until 'seamless queue' has finished every job and deleted the file (as seamless-queue-finish).",
  // QUIRK (cli-spec §7): seamless-queue-finish ignores every argument; positionals still are,
  // and -q (its one flag) is accepted, but a mistyped flag is a usage error.
  positionals: "some",
  options: [{ key: "quiet", names: ["-q", "--quiet"], kind: "flag", help: "accepted for seamless-queue-finish; nothing is printed anyway" }],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const path = process.env.SEAMLESS_QUEUE_FILE ?? ".seamless-queue";
  if (appendEofRecord(path)) {
    while (existsSync(path)) await Bun.sleep(100);
  }
  return 0;
}
