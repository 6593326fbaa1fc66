/**
 * The process-wide signal handlers: SIGINT (Ctrl-C), SIGTERM and SIGHUP abort the command's
 * `AbortController` (a server's too); `lib/` only ever sees the `AbortSignal`. Whatever the command is doing, the
 * process ends within a bounded time after the signal: if the work has not ended
 * {@link FORCED_EXIT_MS} later, the process exits with 130 (what listens to the signal, such as
 * futures and the command's processes, has been cleaned up by then).
 * @module
 */
import { InterruptedError } from "../lib/errors.ts";
import { writeStderr } from "./stdio.ts";
import { createLog } from "../lib/log.ts";

/** How long the work may take to wind down after a signal. */
export const FORCED_EXIT_MS = 10_000;

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * An `AbortSignal` that the first SIGINT, SIGTERM or SIGHUP aborts, for a server that then stops
 * cleanly (`serveService` takes it). The handlers are then removed, so any of these signals
 * again ends the process at once, as usual; and a stop that takes longer than
 * {@link FORCED_EXIT_MS} ends it with 130.
 *
 * @returns the signal
 */
export function serverStopSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    controller.abort(new InterruptedError(`Interrupted by ${name}`));
    setTimeout(() => {
      createLog({ write: writeStderr, prefix: "seamless" }).error(`stopping after ${name}: still busy after ${FORCED_EXIT_MS / 1000} s, exiting`);
      process.exit(130);
    }, FORCED_EXIT_MS).unref();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return controller.signal;
}

/**
 * Runs `work` with an `AbortSignal` that the termination signals abort.
 *
 * @param prefix the command's message prefix (`seamless run`)
 * @param work the command's body
 * @returns what `work` returns
 */
export async function withInterrupt<T>(prefix: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let forced: ReturnType<typeof setTimeout> | null = null;
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    controller.abort(new InterruptedError(`Interrupted by ${name}`));
    forced = setTimeout(() => {
      createLog({ write: writeStderr, prefix }).error(`interrupted by ${name}; still busy after ${FORCED_EXIT_MS / 1000} s, exiting`);
      process.exit(130);
    }, FORCED_EXIT_MS);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    const result = await work(controller.signal);
    if (controller.signal.aborted) throw controller.signal.reason;
    return result;
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    if (forced) clearTimeout(forced);
  }
}
