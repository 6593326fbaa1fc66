/**
 * One voice for every command and server: `Log`. Messages only — data goes to stdout through
 * the command, never through a log. A command's log writes `seamless <command>: text` lines to
 * stderr (cli-spec §3.19); a server's writes the same lines to its stderr or log file; a queue
 * job's writes bare lines into the job's log. `lib/` never picks the destination: it is handed a
 * `Log` and speaks through it.
 *
 * Levels follow `seamless run` (cli-spec §3.19): a message at level L is shown when the
 * verbosity is at least L. Verbosity -1 is `-q`, 0 the default, 1–3 are `-v`…`-vvv`. A message
 * is boxed in a rule of stars when the verbosity is two or more above its level, as Python's
 * seamless-run does. No colour is written, so `NO_COLOR` has nothing to turn off.
 * @module
 */

/** Where a log's text goes, one or more whole lines at a time (each ending in "\n"). */
export type LogSink = (text: string) => void;

/** The voice of a command, a server or a job. */
export interface Log {
  /** -1 quiet (`-q`), 0 default, 1–3 more (`-v`, `-vv`, `-vvv`). */
  readonly verbosity: number;
  /** Put before each message with ": " (e.g. `seamless run`); "" for bare lines. */
  readonly prefix: string;
  /** Says `text` when the verbosity is at least `level` (0: shown by default; 1–3: with `-v`…). */
  message(level: number, text: string): void;
  /** A warning: shown by default, silenced by `-q` (level 0). */
  warn(text: string): void;
  /** An error the user must see: shown whatever the verbosity, never boxed. */
  error(text: string): void;
  /**
   * The same sink with another prefix and/or verbosity.
   *
   * @example Launch messages a command wants at its default verbosity
   * ```ts
   * const lines: string[] = [];
   * const log = createLog({ write: (text) => lines.push(text), prefix: "seamless x" });
   * log.child({ verbosity: 1 }).message(1, "Launching");
   * // lines: ["seamless x: Launching\n"]
   * ```
   */
  child(options: { prefix?: string; verbosity?: number }): Log;
}

/** Options of {@link createLog}. */
export interface LogOptions {
  /** Where the text goes (the CLI: stderr; a daemon: its log file). */
  write: LogSink;
  /** See {@link Log.prefix}; default "". */
  prefix?: string;
  /** See {@link Log.verbosity}; default 0. */
  verbosity?: number;
}

const RULE = "*".repeat(60);

class WriterLog implements Log {
  readonly #write: LogSink;
  readonly prefix: string;
  readonly verbosity: number;

  constructor(options: LogOptions) {
    this.#write = options.write;
    this.prefix = options.prefix ?? "";
    this.verbosity = options.verbosity ?? 0;
  }

  message(level: number, text: string): void {
    if (this.verbosity < level) return;
    if (this.verbosity >= level + 2) {
      const lead = this.prefix ? `${this.prefix}: * ` : "* ";
      this.#write(`${RULE}\n${text.split("\n").map((line) => `${lead}${line}`).join("\n")}\n${RULE}\n`);
      return;
    }
    this.#write(this.prefix ? `${this.prefix}: ${text}\n` : `${text}\n`);
  }

  warn(text: string): void {
    this.message(0, text);
  }

  error(text: string): void {
    this.#write(this.prefix ? `${this.prefix}: ${text}\n` : `${text}\n`);
  }

  child(options: { prefix?: string; verbosity?: number }): Log {
    return new WriterLog({ write: this.#write, prefix: options.prefix ?? this.prefix, verbosity: options.verbosity ?? this.verbosity });
  }
}

/**
 * A log writing `prefix: text` lines to `write`.
 *
 * @param options sink, prefix and verbosity
 * @returns the log
 * @example A command's voice
 * ```ts
 * const lines: string[] = [];
 * const log = createLog({ write: (text) => lines.push(text), prefix: "seamless run", verbosity: 0 });
 * log.message(0, "Upload 2 files, total 12 bytes");
 * log.message(1, "Transformation finished"); // needs -v: not written
 * // lines: ["seamless run: Upload 2 files, total 12 bytes\n"]
 * ```
 */
export function createLog(options: LogOptions): Log {
  return new WriterLog(options);
}

/** A log that says nothing (for callers that want no messages). */
export const SILENT_LOG: Log = createLog({ write: () => {}, verbosity: -Infinity });

/**
 * A log that keeps each message's text (without prefix or newline) in `lines`: for tests, and
 * for callers that show the messages somewhere else.
 *
 * @param verbosity default 3: everything is kept
 * @returns the log and its lines
 */
export function createMemoryLog(verbosity = 3): { log: Log; lines: string[] } {
  const lines: string[] = [];
  return { log: memoryLog(lines, verbosity), lines };
}

function memoryLog(lines: string[], verbosity: number): Log {
  // Bare text at every verbosity: no prefix, no box.
  return {
    verbosity,
    prefix: "",
    message: (level, text) => void (verbosity >= level && lines.push(text)),
    warn: (text) => void (verbosity >= 0 && lines.push(text)),
    error: (text) => void lines.push(text),
    child: (options) => memoryLog(lines, options.verbosity ?? verbosity),
  };
}
