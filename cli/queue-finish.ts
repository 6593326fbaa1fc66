import { existsSync } from "node:fs";
import { appendEofRecord } from "../lib/queue/queue-file.ts";
import { writeStdout } from "./stdio.ts";

const HELP = `Usage: seamless queue-finish

Append the EOF record to $SEAMLESS_QUEUE_FILE (default .seamless-queue), creating it if needed, and
wait until 'seamless queue' has finished every job and deleted the file (as seamless-queue-finish).
`;

export async function main(argv: string[]): Promise<number> {
  // As seamless-queue-finish: other arguments are ignored (cli-spec §7).
  if (argv.includes("-h") || argv.includes("--help")) {
    writeStdout(HELP);
    return 0;
  }
  const path = process.env.SEAMLESS_QUEUE_FILE ?? ".seamless-queue";
  if (appendEofRecord(path)) {
    while (existsSync(path)) await Bun.sleep(100);
  }
  return 0;
}
