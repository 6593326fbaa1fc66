import { configFromFlags } from "./configure.ts";
import { cancelLocalTransformation, lockDirOf } from "../lib/execute/mod.ts";
import { JobserverClient } from "../lib/clients/jobserver.ts";
import { type CommandSpec, SCOPE_OPTIONS } from "./args.ts";
import { parseChecksumCommand } from "./resolve.ts";
import { writeStdout } from "./stdio.ts";
import { commandLog } from "./output.ts";

export const spec: CommandSpec = {
  name: "cancel",
  usage: "seamless cancel CHECKSUM|FILE.CHECKSUM [--project P[:SUB]] [--stage S[:SUB]]",
  summary:
    "Cancel a running transformation: a 'seamless run' or 'run-transformation' of this machine that\n" +
    "executes it stops, kills its command and caches nothing (it exits 130). One line per backend on\n" +
    "stdout: 'process: canceled|not-running|error: …', 'jobserver: …' (cli-spec §8).",
  positionals: "some",
  options: [
    ...SCOPE_OPTIONS,
    { key: "verbose", names: ["--verbose"], kind: "flag", help: "accepted for compatibility" },
  ],
  epilog: "Exit codes: 0 a backend canceled it, 2 none did, 1 bad input or configuration.",
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseChecksumCommand(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, checksum } = parsed;
  const config = configFromFlags(values);
  const local = await cancelLocalTransformation(lockDirOf(config.cacheDir), checksum);
  writeStdout(`process: ${local.status === "error" ? `error: ${local.message}` : local.status}\n`);
  let remoteCanceled = false;
  const jobserverChoice = config.clients.jobserver[0];
  if (jobserverChoice?.kind === "url") {
    // Level 3: a hard cancel on the jobserver (services-spec §4.7).
    try {
      const answer = await new JobserverClient(jobserverChoice.url).cancelTransformation(checksum);
      remoteCanceled = answer.canceled;
      writeStdout(`jobserver: ${answer.canceled ? "canceled" : "not-running"}\n`);
    } catch (error) {
      writeStdout(`jobserver: error: ${(error as Error).message}\n`);
    }
  } else if (jobserverChoice) {
    writeStdout("jobserver: not-running\n");
  }
  if (local.status === "canceled" || remoteCanceled) return 0;
  if (local.status === "error") commandLog("cancel").error(local.message);
  return 2;
}
