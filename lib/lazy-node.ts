/**
 * Node built-ins that most runs never touch, loaded on first use. Importing `node:fs/promises`
 * costs ~0.5 ms of start-up and `node:os` ~0.3 ms (one-line compiled binaries, BENCHMARKS.md);
 * a cache hit needs neither, so a static import would make every hit pay for them.
 * @module
 */
let fsPromisesModule: typeof import("node:fs/promises") | undefined;
let osModule: typeof import("node:os") | undefined;

/** `node:fs/promises`. */
export function fsPromises(): typeof import("node:fs/promises") {
  return (fsPromisesModule ??= require("node:fs/promises") as typeof import("node:fs/promises"));
}

/** `node:os`. */
export function os(): typeof import("node:os") {
  return (osModule ??= require("node:os") as typeof import("node:os"));
}
