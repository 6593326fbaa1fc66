/**
 * `seamless`: the command table. Each command module is loaded only when it runs, to keep
 * start-up lean. Errors are caught once, here, and printed as one line.
 * @module
 */
import { InterruptedError, SeamlessError, UsageError } from "../lib/errors.ts";
import { VERSION } from "../lib/version.ts";
import { createLog } from "../lib/log.ts";
import { writeStdout, writeStderr } from "./stdio.ts";

/** A command's entry point: returns the exit code. */
export type CommandMain = (argv: string[]) => Promise<number>;

export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {
  run: { summary: "run a bash command as a cached transformation", load: async () => (await import("./run.ts")).main },
  "run-transformation": { summary: "run (or answer from cache) a stored transformation", load: async () => (await import("./run-transformation.ts")).main },
  checksum: { summary: "print checksums of files and directories (and write sidecars)", load: async () => (await import("./checksum.ts")).main },
  upload: { summary: "store files and directories as buffers, write .CHECKSUM/.INDEX", load: async () => (await import("./upload.ts")).main },
  download: { summary: "fetch buffers named by sidecars or checksums into files", load: async () => (await import("./download.ts")).main },
  resolve: { summary: "print or save the buffer of a checksum", load: async () => (await import("./resolve.ts")).main },
  log: { summary: "what ran: runs newest first, their outcome, time and time saved", load: async () => (await import("./log.ts")).main },
  explain: { summary: "say why a command would run again, or that it is a cache hit", load: async () => (await import("./explain.ts")).main },
  stats: { summary: "the cache in numbers: buffers, results, hit rate, time saved", load: async () => (await import("./stats.ts")).main },
  gc: { summary: "remove least recently used results and the buffers only they need", load: async () => (await import("./gc.ts")).main },
  forget: { summary: "drop cached results so that the next run executes", load: async () => (await import("./forget.ts")).main },
  completion: { summary: "print a shell completion script (bash, zsh, fish)", load: async () => (await import("./completion.ts")).main },
  hashserver: { summary: "serve a buffer directory over HTTP (hashserver protocol)", load: async () => (await import("./hashserver.ts")).main },
  jobserver: { summary: "run transformations on a pool of worker processes over HTTP", load: async () => (await import("./jobserver.ts")).main },
  worker: { summary: "internal: one worker process of a jobserver", load: async () => (await import("./worker.ts")).main },
  database: { summary: "serve a result cache (seamless.db) over HTTP (seamless-database protocol)", load: async () => (await import("./database.ts")).main },
  config: { summary: "print the resolved configuration (cluster, project, stage, level, clients)", load: async () => (await import("./config.ts")).main },
  fingertip: { summary: "print or save a buffer, recomputing it when it is missing everywhere", load: async () => (await import("./fingertip.ts")).main },
  cancel: { summary: "cancel a running transformation of this machine", load: async () => (await import("./cancel.ts")).main },
  "launch-service": { summary: "find or start a service for a launcher key (used over SSH)", load: async () => (await import("./launch-service.ts")).main },
  queue: { summary: "a durable job queue: submit, status, list, cancel, logs, wait... (see --help)", load: async () => (await import("./queue.ts")).main },
  "queue-finish": { summary: "end a queue file: append EOF and wait until 'seamless queue' is done", load: async () => (await import("./queue-finish.ts")).main },
};

const WRITES_CACHE = new Set(["run", "run-transformation", "upload", "download"]);

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  const rows = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}${summary}`);
  return `Usage: seamless <command> [options] [arguments]

Seamless on the command line: bash commands become content-addressed, cached transformations.

Commands:
${rows.join("\n")}

Options:
  -h, --help     show this help (also: seamless <command> --help)
  --version      print the version
  --debug        print stack traces on errors

Buffers and the result cache live in $SEAMLESS_CACHE (default: $XDG_CACHE_HOME/seamless or
~/.cache/seamless); --hashserver URL or $SEAMLESS_HASHSERVER selects a remote buffer server;
a seamless.yaml with a cluster selects launched servers ('seamless config' shows the choice).
`;
}

function reportError(command: string | undefined, error: unknown, debug: boolean): number {
  const log = createLog({ write: writeStderr, prefix: command ? `seamless ${command}` : "seamless" });
  if (error instanceof SeamlessError) {
    log.error(error.message);
    if (error.hint) log.error(`hint: ${error.hint}`);
    if (error instanceof UsageError) {
      const helpOf = error.command ?? command;
      writeStderr(`Try 'seamless ${helpOf ? `${helpOf} ` : ""}--help'.\n`);
    }
    if (debug) writeStderr(`${error.stack}\n`);
    return error.exitCode;
  }
  const err = error as NodeJS.ErrnoException;
  if (err?.code && err.path) {
    const what: Record<string, string> = { ENOENT: "no such file or directory", EACCES: "permission denied", EISDIR: "is a directory", ENOTDIR: "not a directory", EEXIST: "already exists" };
    log.error(`"${err.path}": ${what[err.code] ?? err.message}`);
  } else {
    log.error(err?.message ?? String(error));
  }
  if (debug) writeStderr(`${err?.stack}\n`);
  return 1;
}

/** Runs the CLI and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  // Filtered only when present: a loop over 10k file arguments costs milliseconds this early.
  const args = debug ? argv.filter((arg, i) => !(arg === "--debug" && argv.indexOf(arg) === i && i === 0)) : argv;
  const [command, ...rest] = args[0] === "--debug" ? args.slice(1) : args;
  if (command === "-h" || command === "--help" || command === "help") {
    writeStdout(usage());
    return 0;
  }
  if (command === undefined) return reportError(undefined, new UsageError("missing command"), debug);
  if (command === "--version" || command === "-V" || command === "version") {
    writeStdout(`seamless ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) return reportError(undefined, new UsageError(`Unknown command "${command}"`), debug);
  let releaseWriter: (() => void) | null = null;
  try {
    // Commands that write into the cache register there, so temp files of a killed one are reaped
    // later. Imported here, not at the top: `--version`, `--help` and the read-only commands do
    // not load the configuration and process-tree modules at all.
    if (WRITES_CACHE.has(command) && !rest.includes("--help") && !rest.includes("-h")) {
      const [{ registerTempWriter }, { cacheDirOf }] = await Promise.all([import("../lib/buffers/temp-files.ts"), import("../lib/config/mod.ts")]);
      releaseWriter = registerTempWriter(cacheDirOf(process.env));
    }
    const main = await entry.load();
    return await main(debug ? rest.filter((arg) => arg !== "--debug") : rest);
  } catch (error) {
    if (error instanceof InterruptedError) {
      writeStderr(`${error.message}\n`);
      return 130;
    }
    return reportError(command, error, debug);
  } finally {
    releaseWriter?.();
  }
}

if (import.meta.main) {
  const code = await runCli(process.argv.slice(2));
  // The command's work is done: idle keep-alive connections or a stray timer must not keep the
  // process up (issue 17 item 8a). Output is written synchronously, so nothing is lost.
  process.exit(code);
}
