/**
 * The ground floor (STYLE.md §2): atomic file writes with clear disk errors, the one SQLite
 * opener, and Node built-ins loaded on first use (`lazy-node.ts`). It imports nothing of
 * `seamless` but `lib/errors.ts`, so every other domain may build on it.
 * @module
 */
export * from "./atomic-write.ts";
export * from "./sqlite.ts";
// lazy-node.ts is for lib/ only: `os()`, `zlib()`, `http()` and the like are no library API.
