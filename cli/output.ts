/**
 * Messages on stderr, data on stdout (cli-spec §3.19): a command's {@link Log} writes
 * `seamless <command>: text`, shown when the verbosity is at least the message's level; progress
 * only on a TTY.
 * @module
 */
import { stderrIsTerminal, writeStderr } from "./stdio.ts";
import { formatSize } from "../lib/units/human-size.ts";
import { createLog, type Log } from "../lib/log.ts";

export { formatSize, parseHumanSize } from "../lib/units/human-size.ts";

/**
 * A command's voice: `seamless <command>: text` lines on stderr.
 *
 * @param command the command's name (`run`, `queue cancel`…)
 * @param verbosity from `-v`/`-q` ({@link verbosityOf}); 0 by default
 */
export function commandLog(command: string, verbosity = 0): Log {
  return createLog({ write: writeStderr, prefix: `seamless ${command}`, verbosity });
}

/**
 * A progress line for long transfers; silent when stderr is not a terminal or with -q.
 * With an unknown total (null) it shows the bytes moved so far.
 */
export function progressLine(log: Log, totalBytes: number | null, label: string): (bytes: number) => void {
  if (!stderrIsTerminal() || log.verbosity < 0 || (totalBytes !== null && totalBytes < 64 * 1024 * 1024)) return () => {};
  let done = 0;
  let lastDraw = 0;
  return (bytes: number) => {
    done += bytes;
    const now = Date.now();
    const finished = totalBytes !== null && done >= totalBytes;
    if (now - lastDraw < 200 && !finished) return;
    lastDraw = now;
    const amount = totalBytes === null ? formatSize(done) : `${formatSize(done)} / ${formatSize(totalBytes)} (${Math.min(100, Math.floor((done / totalBytes) * 100))}%)`;
    writeStderr(`\r${log.prefix}: ${label} ${amount}\x1b[K${finished ? "\n" : ""}`);
  };
}
