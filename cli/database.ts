import { resolve } from "node:path";
import { UsageError } from "../lib/errors.ts";
import { DatabaseFile, assertSqliteFile } from "../lib/cache/database-file.ts";
import { acquireWriterLock, type WriterLock } from "../lib/cache/writer-lock.ts";
import { DEFAULT_MAX_BODY_BYTES, createDatabaseHandler } from "../lib/servers/database.ts";
import { reportStartupFailure, serveService } from "../lib/servers/serve.ts";
import { parseHumanSize } from "../lib/units/human-size.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";
import { serveFlagsOf, serveOptions } from "./serve-flags.ts";
import { writeStdout } from "./stdio.ts";
import { commandLog } from "./output.ts";
import { serverStopSignal } from "./interrupt.ts";

export const spec: CommandSpec = {
  name: "database",
  usage: "seamless database DATABASE_FILE [--writable] [--port N | --port-range A B] [--host H] [--status-file F] [--timeout S] [--max-body SIZE]",
  summary:
    "Serve the result cache DATABASE_FILE (seamless.db, the schema of Python Seamless) with the\n" +
    "seamless-database wire protocol: transformation results, execution records, irreproducible entries.",
  positionals: "some",
  options: [
    { key: "writable", names: ["--writable"], kind: "flag", help: "accept PUT; create the file if needed (one writable server per file)" },
    ...serveOptions("a random free port in 49152-65535"),
    { key: "maxBody", names: ["--max-body"], kind: "value", metavar: "SIZE", help: "refuse larger request bodies with 413 (default 64 MiB)" },
  ],
  epilog: "Without --writable the file must exist and every PUT answers 405.",
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected exactly one database file");
  const path = resolve(positionals[0]!);
  const writable = values.writable === true;
  const { host, port, statusFile, timeoutSeconds } = serveFlagsOf(values, { range: [49152, 65535] });
  const maxBodyBytes = values.maxBody === undefined ? DEFAULT_MAX_BODY_BYTES : parseHumanSize(values.maxBody as string);
  if (!(maxBodyBytes > 0)) throw new UsageError(`invalid --max-body "${values.maxBody}"`);
  const log = commandLog("database");
  let lock: WriterLock | null = null;
  let file: DatabaseFile;
  try {
    assertSqliteFile(path);
    if (writable) lock = acquireWriterLock(path);
    file = DatabaseFile.openForServer(path, writable);
  } catch (error) {
    lock?.release();
    if (statusFile) await reportStartupFailure(statusFile);
    throw error;
  }
  writeStdout(`DATABASE FILE ${positionals[0]}\n`);
  try {
    const handler = createDatabaseHandler({ file, writable, maxBodyBytes });
    const server = await serveService(handler, { host, port, statusFile, timeoutSeconds, log, signal: serverStopSignal() });
    writeStdout("Press Ctrl+C to end\n");
    log.message(0, `serving ${path} on http://${host}:${server.port}${writable ? " (writable)" : " (read-only)"}`);
    await server.stopped;
    return 0;
  } finally {
    file.close();
    lock?.release();
  }
}
