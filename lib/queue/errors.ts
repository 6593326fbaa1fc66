/**
 * Errors of the job engine; each carries its meaning (and, for the HTTP face, its status).
 * @module
 */
import { NotFoundError, SeamlessError } from "../errors.ts";

/** No job with this id. */
export class JobNotFoundError extends NotFoundError {
  constructor(readonly jobId: number) {
    super(`Cannot find job ${jobId}: no such job`);
  }
}

/** A transition the job's current state does not allow (e.g. cancel a finished job). */
export class IllegalTransitionError extends SeamlessError {
  constructor(readonly jobId: number, readonly transition: string, readonly state: string) {
    super(`Cannot ${transition} job ${jobId}: it is ${state}`);
  }
}

/** A submission the engine refuses (unknown dependency, negative value, empty command, ...). */
export class InvalidJobError extends SeamlessError {
  constructor(readonly field: string, message: string) {
    super(message, { exitCode: 1 });
  }
}

/** The queue database is unreadable, of a newer version, or held by another daemon. */
export class QueueDatabaseError extends SeamlessError {}
