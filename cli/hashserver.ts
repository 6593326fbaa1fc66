import { existsSync, statSync } from "node:fs";
import { UsageError, SeamlessError } from "../lib/errors.ts";
import { createHashserverHandler } from "../lib/servers/hashserver.ts";
import { serveService } from "../lib/servers/serve.ts";
import { serveFlagsOf, serveOptions } from "./serve-flags.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";
import { writeStdout } from "./stdio.ts";
import { commandLog } from "./output.ts";
import { serverStopSignal } from "./interrupt.ts";

export const spec: CommandSpec = {
  name: "hashserver",
  usage: "seamless hashserver DIR [--writable] [--port N | --port-range A B] [--host H] [--status-file F] [--timeout S] [--layout flat|prefix]",
  summary: "Serve the buffer directory DIR with the hashserver wire protocol (SHA-256).",
  positionals: "some",
  options: [
    { key: "writable", names: ["--writable"], kind: "flag", help: "accept PUT /CHECKSUM and PUT /promise/CHECKSUM" },
    ...serveOptions("8000"),
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
  const { host, port, statusFile, timeoutSeconds } = serveFlagsOf(values, { port: 8000 });
  const layout = (values.layout as string | undefined) ?? process.env.HASHSERVER_LAYOUT ?? "prefix";
  if (layout !== "flat" && layout !== "prefix") throw new UsageError("Layout must be 'flat' or 'prefix'");
  const encoding = (values.encoding as string | undefined) ?? "sha-256";
  if (encoding !== "sha-256") throw new UsageError(`Unsupported --encoding "${encoding}": Seamless checksums are sha-256`);
  const extraText = (values.extraDirs as string | undefined) ?? process.env.HASHSERVER_EXTRA_DIRS ?? "";
  const extraDirs = extraText.split(";").map((d) => d.trim()).filter(Boolean);
  const log = commandLog("hashserver");
  const handler = createHashserverHandler({ directory, writable: values.writable === true, layout, extraDirs });
  const server = await serveService(handler, { host, port, statusFile, timeoutSeconds, log, signal: serverStopSignal() });
  writeStdout("OK\n");
  log.message(0, `serving ${directory} on http://${host}:${server.port}${values.writable ? " (writable)" : ""}`);
  await server.stopped;
  return 0;
}
