/**
 * A run that met a corrupt stored buffer goes again once: the buffer was dropped from the store
 * when it was read ({@link CorruptBufferError}), so the next attempt stores it again from the
 * user's file when that is at hand, or executes the transformation again when the corrupt
 * buffer was a cached result. A corrupt buffer is never used as an input or a cache hit. A
 * result buffer that vanished before it was placed (a concurrent `seamless gc`) is computed again
 * the same way.
 * @module
 */
import { CorruptBufferError, ResultBufferGoneError } from "../errors.ts";
import type { Log } from "../log.ts";

/** How often a run starts over after dropping corrupt buffers (each start drops at least one). */
const MAX_RECOVERIES = 3;

/**
 * Runs `attempt`, and again after a {@link CorruptBufferError}, up to a bound.
 *
 * @param attempt one complete run (it must store what is missing before it computes)
 * @param log says the "stored again" note (a warning)
 * @returns what the successful attempt returned
 * @throws {CorruptBufferError} when buffers keep turning out corrupt
 */
export async function recoverFromCorruptBuffers<T>(attempt: () => Promise<T>, log: Log): Promise<T> {
  for (let recoveries = 0; ; recoveries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof CorruptBufferError || error instanceof ResultBufferGoneError) || recoveries >= MAX_RECOVERIES) throw error;
      log.warn(error instanceof CorruptBufferError ? `${error.message}; starting again without it` : `${error.message} (removed meanwhile); computing it again`);
    }
  }
}
