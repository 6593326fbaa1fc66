/**
 * How to run our own binary (to launch `seamless hashserver` and friends): the compiled binary
 * itself, or Bun with `cli/main.ts` when running from source (tests, development).
 * @module
 */
import { join } from "node:path";

/**
 * The argv prefix that runs `seamless`.
 *
 * @returns `[execPath]` in the compiled binary, `[bun, <repo>/cli/main.ts]` from source
 */
export function selfCommand(): string[] {
  const compiled = !/(^|\/)bun(-debug)?(\.exe)?$/.test(process.execPath);
  return compiled ? [process.execPath] : [process.execPath, join(import.meta.dir, "..", "..", "cli", "main.ts")];
}
