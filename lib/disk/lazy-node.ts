/**
 * Node built-ins that most runs never touch, loaded on first use. Importing `node:fs/promises`
 * costs ~0.5 ms of start-up and `node:os` ~0.3 ms, `node:zlib` ~11 ms and `node:http` ~17 ms
 * (one-line compiled binaries, BENCHMARKS.md); a cache hit needs none of them, so a static
 * import would make every hit pay for them. Type-only imports of these modules cost nothing.
 * @module
 */
let fsPromisesModule: typeof import("node:fs/promises") | undefined;
let osModule: typeof import("node:os") | undefined;
let zlibModule: typeof import("node:zlib") | undefined;
let httpModule: typeof import("node:http") | undefined;
let netModule: typeof import("node:net") | undefined;

/** `node:fs/promises`. */
export function fsPromises(): typeof import("node:fs/promises") {
  return (fsPromisesModule ??= require("node:fs/promises") as typeof import("node:fs/promises"));
}

/** `node:os`. */
export function os(): typeof import("node:os") {
  return (osModule ??= require("node:os") as typeof import("node:os"));
}

/** `node:zlib` (gzip; zstd where the runtime has it). */
export function zlib(): typeof import("node:zlib") {
  return (zlibModule ??= require("node:zlib") as typeof import("node:zlib"));
}

/** `node:http` (clients that send GET with a body; the servers' listener). */
export function http(): typeof import("node:http") {
  return (httpModule ??= require("node:http") as typeof import("node:http"));
}

/** `node:net` (probing for a free port). */
export function net(): typeof import("node:net") {
  return (netModule ??= require("node:net") as typeof import("node:net"));
}
