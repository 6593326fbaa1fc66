/**
 * Messages on stderr, data on stdout (cli-spec §3.19): `seamless <command>: text`, shown when
 * the verbosity is at least the message's level; progress only on a TTY.
 * @module
 */
import { stderrIsTerminal, writeStderr } from "./stdio.ts";
import { formatSize } from "../lib/units/human-size.ts";

export { formatSize, parseHumanSize } from "../lib/units/human-size.ts";

/** A command's stderr voice. */
export class Reporter {
  constructor(readonly header: string, readonly verbosity: number) {}

  /** Prints at `level` (0 = default visible); boxed when verbosity ≥ level + 2, as Python does. */
  message(level: number, text: string): void {
    if (this.verbosity < level) return;
    if (this.verbosity >= level + 2) {
      const rule = "*".repeat(60);
      const body = text.split("\n").map((line) => `${this.header}: * ${line}`).join("\n");
      writeStderr(`${rule}\n${body}\n${rule}\n`);
      return;
    }
    writeStderr(`${this.header}: ${text}\n`);
  }

  /**
   * A progress line for long transfers; silent when stderr is not a terminal or with -q.
   * With an unknown total (null) it shows the bytes moved so far.
   */
  progress(totalBytes: number | null, label: string): (bytes: number) => void {
    if (!stderrIsTerminal() || this.verbosity < 0 || (totalBytes !== null && totalBytes < 64 * 1024 * 1024)) return () => {};
    let done = 0;
    let lastDraw = 0;
    return (bytes: number) => {
      done += bytes;
      const now = Date.now();
      const finished = totalBytes !== null && done >= totalBytes;
      if (now - lastDraw < 200 && !finished) return;
      lastDraw = now;
      const amount = totalBytes === null ? formatSize(done) : `${formatSize(done)} / ${formatSize(totalBytes)} (${Math.min(100, Math.floor((done / totalBytes) * 100))}%)`;
      writeStderr(`\r${this.header}: ${label} ${amount}\x1b[K${finished ? "\n" : ""}`);
    };
  }

}
