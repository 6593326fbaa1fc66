/**
 * Retry delays: exponential backoff with jitter and a cap.
 * @module
 */

/** How long a retried job waits. */
export interface RetryPolicy {
  /** Delay before the first retry (before jitter). */
  baseMs: number;
  /** No delay exceeds this. */
  capMs: number;
}

/** 1 s, doubling, at most 5 minutes. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 1000, capMs: 300_000 };

/**
 * The delay before retry number `retry` (1 for the first): `min(cap, base·2^(retry-1))`,
 * then "equal jitter" (half fixed, half random) so retried jobs do not stampede together.
 *
 * @param retry the retry number, from 1
 * @param policy base and cap
 * @param random a number in [0, 1)
 * @returns milliseconds
 * @example
 * ```ts
 * assertEquals(retryDelayMs(1, { baseMs: 1000, capMs: 60_000 }, 0), 500);
 * assertEquals(retryDelayMs(20, { baseMs: 1000, capMs: 60_000 }, 0.999999) <= 60_000, true);
 * ```
 */
export function retryDelayMs(retry: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY, random = Math.random()): number {
  const exponential = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, Math.min(retry - 1, 40)));
  return Math.round(exponential / 2 + (exponential / 2) * random);
}
