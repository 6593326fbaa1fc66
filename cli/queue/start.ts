import { availableParallelism } from "node:os";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { startQueueDaemon } from "../../lib/servers/queue-daemon.ts";
import { validatePortRange, type PortChoice } from "../../lib/servers/serve.ts";
import { cacheDirOf } from "../../lib/config/mod.ts";
import { parseOrHelp, type CommandSpec } from "../args.ts";
import { connect, parseCount, parseDuration, queueDir, selfCommand } from "./_common.ts";
import { commandLog } from "../output.ts";
import { serverStopSignal } from "../interrupt.ts";

export const spec: CommandSpec = {
  name: "queue start",
  usage: "seamless queue start [--slots N] [--host H] [--port N | --port-range A B] [--status-file F] [--token-file F] [--retain DURATION] [--detach]",
  summary: "Run the queue daemon (in the foreground unless --detach). State: <cache dir>/queue/queue.db.",
  positionals: "none",
  options: [
    { key: "slots", names: ["--slots"], kind: "value", metavar: "N", help: "parallel jobs of the default group (default: number of cores)" },
    { key: "host", names: ["--host"], kind: "value", metavar: "H", help: "address to bind (default 127.0.0.1; others require a bearer token)" },
    { key: "port", names: ["--port"], kind: "value", metavar: "N", help: "port (default: any free port, published in daemon.json)" },
    { key: "portRange", names: ["--port-range"], kind: "pair", metavar: "A B", help: "a random free port in this range" },
    { key: "statusFile", names: ["--status-file"], kind: "value", metavar: "F", help: "status file protocol of remote-http-launcher" },
    { key: "tokenFile", names: ["--token-file"], kind: "value", metavar: "F", help: "file with the bearer token clients must send" },
    { key: "retain", names: ["--retain"], kind: "value", metavar: "DURATION", help: "delete ended jobs older than this (default 30d; 0 keeps all)" },
    { key: "detach", names: ["--detach", "-d"], kind: "flag", help: "start in the background and return" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  if (values.detach) {
    // The daemon runs in the queue directory: file arguments are made absolute here.
    const args: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (arg === "--detach" || arg === "-d") continue;
      args.push(arg);
      if ((arg === "--status-file" || arg === "--token-file") && argv[i + 1] !== undefined) args.push(resolve(argv[++i]!));
    }
    const client = await connect(true, args);
    commandLog("queue").message(0, `daemon running at ${client.endpoint.url}`);
    return 0;
  }
  if (values.port !== undefined && values.portRange !== undefined) throw new UsageError("--port and --port-range are mutually exclusive");
  let port: PortChoice = { port: 0 };
  if (values.port !== undefined) port = { port: parseCount(values.port, "--port") };
  else if (values.portRange) {
    const [a, b] = (values.portRange as string[]).map(Number) as [number, number];
    validatePortRange(a, b);
    port = { range: [a, b] };
  }
  const slots = values.slots === undefined ? availableParallelism() : parseCount(values.slots, "--slots");
  if (slots < 1) throw new UsageError("--slots must be at least 1");
  const dir = queueDir();
  mkdirSync(dir, { recursive: true });
  const log = commandLog("queue");
  const daemon = await startQueueDaemon({
    cacheDir: cacheDirOf(process.env), queueDir: dir, slots, host: (values.host as string | undefined) ?? "127.0.0.1", port,
    retainSeconds: values.retain === undefined ? undefined : parseDuration(values.retain as string, "--retain"),
    statusFile: values.statusFile as string | undefined, tokenFile: values.tokenFile as string | undefined, selfCommand: selfCommand(), log, signal: serverStopSignal(),
  });
  log.message(0, `daemon ${process.pid} listening on port ${daemon.port} with ${slots} slots`);
  await daemon.stopped;
  return 0;
}
