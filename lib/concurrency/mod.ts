/**
 * Bounded and adaptive concurrency for many small I/O operations.
 * @module
 */
export * from "./map-concurrent.ts";
export * from "./semaphore.ts";
export * from "./pid-lock.ts";
