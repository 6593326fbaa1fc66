import { queuePathsOf } from "../../lib/queue/paths.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { connect, JSON_OPTION, printJson, queueDir } from "./_common.ts";
import { existsSync } from "node:fs";
import { readDaemonAddress } from "../../lib/clients/queue.ts";
import { isProcessAlive } from "../../lib/process/process-tree.ts";

export const spec: CommandSpec = {
  name: "queue stop",
  usage: "seamless queue stop [--json]",
  summary: "Stop the daemon. Running jobs are killed and queued again untouched; everything queued stays for the next start.",
  positionals: "none",
  options: [JSON_OPTION],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const client = await connect();
  const answer = await client.stop();
  const address = queuePathsOf(queueDir()).address;
  const pid = readDaemonAddress(address)?.pid;
  const deadline = Date.now() + 30_000;
  while ((existsSync(address) || (pid !== undefined && isProcessAlive(pid))) && Date.now() < deadline) await Bun.sleep(10);
  if (parsed.values.json) printJson(answer);
  return 0;
}
