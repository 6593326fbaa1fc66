/**
 * The parsed form of a command string, as plain JSON so it can be memoized: what seamless-run
 * learns from bashlex (cli-spec §3.5), whatever parser produced it.
 * @module
 */

/** A word after quote removal, with its span in the command string. */
export interface BashWord {
  text: string;
  start: number;
  end: number;
}

/** A redirection of a command or compound. */
export interface BashRedirect {
  start: number;
  /** Explicit file descriptor (`2>`), or null. */
  fd: number | null;
  /** The operator: `>`, `>>`, `&>`, `&>>`, `>|`, `<`, `<<`, `<<<`, `>&`, `<&`, `<>`. */
  op: string;
  /** The target after quote removal (the first destination word), or null. */
  target: string | null;
  /** Span of the target word in the command string (for rewriting it), when there is one. */
  targetStart?: number;
  targetEnd?: number;
}

/** A simple command (bashlex `command` node). */
export interface BashCommand {
  start: number;
  end: number;
  /** Words before the redirect barrier, nested command-substitution words included. */
  words: BashWord[];
  redirects: BashRedirect[];
  /** Indexes (into `commands`) of the pipeline this command belongs to when it is the primary one. */
  pipeline: number[];
}

/** A parsed command string. */
export interface CommandLine {
  commands: BashCommand[];
  /** Redirects of the first top-level tree when it is a compound, e.g. `( ... ) > out`. */
  compoundRedirects: BashRedirect[];
  /** Names of shell functions defined in the string (they need no `chmod +x`). */
  functionNames: string[];
}
