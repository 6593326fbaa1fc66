import { existsSync, statSync } from "node:fs";
import { UsageError, SeamlessError } from "../lib/errors.ts";
import { createHashserverHandler } from "../lib/servers/hashserver.ts";
import { withErrorHandling } from "../lib/servers/http.ts";
import { serveService, validatePortRange, type PortChoice } from "../lib/servers/serve.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";
import { writeStdout, writeStderr } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "hashserver",
  usage: "seamless hashserver DIR [--writable] [--port N | --port-range A B] [--host H] [--status-file F] [--timeout S] [--layout flat|prefix]",
  summary: "Serve the buffer directory DIR with the hashserver wire protocol (SHA-256).",
  positionals: "some",
  options: [
    { key: "writable", names: ["--writable"], kind: "flag", help: "accept PUT /CHECKSUM and PUT /promise/CHECKSUM" },
    { key: "port", names: ["--port"], kind: "value", metavar: "N", help: "port to listen on (default 8000)" },
    { key: "portRange", names: ["--port-range"], kind: "pair", metavar: "START END", help: "pick a random free port in this inclusive range" },
    { key: "host", names: ["--host"], kind: "value", metavar: "H", help: "address to bind (default 127.0.0.1)" },
    { key: "statusFile", names: ["--status-file"], kind: "value", metavar: "F", help: "status file protocol of remote-http-launcher" },
    { key: "timeout", names: ["--timeout"], kind: "value", metavar: "S", help: "stop after S seconds without requests" },
    { key: "layout", names: ["--layout"], kind: "value", metavar: "L", help: "flat or prefix (default prefix, env HASHSERVER_LAYOUT)" },
    { key: "extraDirs", names: ["--extra-dirs"], kind: "value", metavar: "D1;D2", help: "extra read-only buffer directories (env HASHSERVER_EXTRA_DIRS)" },
    { key: "encoding", names: ["--encoding"], kind: "value", metavar: "E", help: "checksum algorithm; only sha-256 is supported" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected exactly one buffer directory");
  const directory = positionals[0]!;
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    throw new SeamlessError(`Buffer directory "${directory}" does not exist or is not a directory`);
  }
  if (values.port !== undefined && values.portRange !== undefined) throw new UsageError("--port and --port-range are mutually exclusive");
  let port: PortChoice = { port: 8000 };
  if (values.port !== undefined) {
    const n = Number(values.port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`invalid port "${values.port}"`);
    port = { port: n };
  } else if (values.portRange) {
    const [a, b] = (values.portRange as string[]).map(Number) as [number, number];
    validatePortRange(a, b);
    port = { range: [a, b] };
  }
  const layout = (values.layout as string | undefined) ?? process.env.HASHSERVER_LAYOUT ?? "prefix";
  if (layout !== "flat" && layout !== "prefix") throw new UsageError("Layout must be 'flat' or 'prefix'");
  const encoding = (values.encoding as string | undefined) ?? "sha-256";
  if (encoding !== "sha-256") throw new UsageError(`Unsupported --encoding "${encoding}": Seamless checksums are sha-256`);
  let timeoutSeconds: number | undefined;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (!(timeoutSeconds > 0)) throw new UsageError("--timeout must be a positive number");
  }
  const extraText = (values.extraDirs as string | undefined) ?? process.env.HASHSERVER_EXTRA_DIRS ?? "";
  const extraDirs = extraText.split(";").map((d) => d.trim()).filter(Boolean);
  const log = (line: string) => writeStderr(`seamless hashserver: ${line}\n`);
  const handler = withErrorHandling(createHashserverHandler({ directory, writable: values.writable === true, layout, extraDirs }), log);
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  const server = await serveService(handler, { host, port, statusFile: values.statusFile as string | undefined, timeoutSeconds, log });
  writeStdout("OK\n");
  log(`serving ${directory} on http://${host}:${server.port}${values.writable ? " (writable)" : ""}`);
  await server.stopped;
  return 0;
}
