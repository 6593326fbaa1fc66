/**
 * Error classes shared by the library and the CLI. Each carries its exit code, so the CLI
 * never matches message text (STYLE.md, "Errors and exit codes").
 * @module
 */

/** Base class: a failure the user should see as one line, with an exit code. */
export class SeamlessError extends Error {
  /** Process exit code the CLI uses for this error. */
  exitCode: number;
  /** Optional second line telling the user what to do. */
  hint?: string;
  constructor(message: string, options: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
    this.hint = options.hint;
  }
}

/**
 * Bad flags or arguments (exit 2): every usage error is one of these, and the CLI turns it into
 * exit code 2 in one place (cli/main.ts).
 */
export class UsageError extends SeamlessError {
  /** The (sub)command whose `--help` explains the usage (e.g. `queue submit`); default the command. */
  command?: string;
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, { exitCode: 2, ...options });
  }
}

/** A buffer, file or key that does not exist (exit 1). */
export class NotFoundError extends SeamlessError {}

/**
 * A result buffer that was there when the result was looked up or recorded, and is gone when it
 * is placed (a concurrent `seamless gc`): the run computes it again (recover-corrupt.ts).
 */
export class ResultBufferGoneError extends NotFoundError {}

/** Bytes whose SHA-256 does not match the checksum they were stored or sent under (exit 1). */
export class ChecksumMismatchError extends SeamlessError {}

/** A remote server answered with an error or could not be reached (exit 1). */
export class RemoteError extends SeamlessError {
  url: string;
  status?: number;
  constructor(message: string, url: string, status?: number, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options);
    this.url = url;
    this.status = status;
  }
}

/** The user interrupted the operation (exit 130). */
export class InterruptedError extends SeamlessError {
  constructor(message: string) {
    super(message, { exitCode: 130 });
  }
}

/**
 * A write the file system refused for lack of room or permission (ENOSPC, EDQUOT, EROFS,
 * EACCES): one line naming the cause and the path, exit 1. Nothing was committed.
 */
export class DiskWriteError extends SeamlessError {
  /** The errno code, e.g. `ENOSPC`. */
  code: string;
  constructor(message: string, code: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options);
    this.code = code;
  }
}

/** A stored buffer whose bytes do not match its name; it has been removed from the store (exit 1). */
export class CorruptBufferError extends ChecksumMismatchError {
  constructor(message: string, readonly checksum: string) {
    super(message);
  }
}
