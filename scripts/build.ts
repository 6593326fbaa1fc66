/**
 * Builds `dist/seamless`, one self-contained executable (`bun build --compile`).
 * The tree-sitter `.wasm` files are embedded through `with { type: "file" }` imports.
 * `--bytecode` ships precompiled JavaScriptCore bytecode: start-up drops from ~23 ms to ~9 ms,
 * because the ~300 KB bundle is no longer parsed at every run; `--splitting` keeps the tree-sitter
 * glue in its own chunk, loaded only when a command line needs the real parser (BENCHMARKS.md).
 * The hash pool's worker and the upload helper are further entry points: a Worker can only
 * start embedded modules. A compiled Bun binary would otherwise load `.env` and `bunfig.toml`
 * from the working directory: a `.env` there changed `SEAMLESS_CACHE`, a `bunfig.toml` preload
 * ran its script, and looking for them cost ~1 ms per run.
 */
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const result = Bun.spawnSync(
  [process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm", "--splitting", "--sourcemap=none", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "cli/main.ts", "lib/checksum/hash-worker.ts", "lib/upload/_worker.ts", "--outfile", "dist/seamless"],
  { stdout: "inherit", stderr: "inherit" },
);
if (result.exitCode !== 0) {
  console.error("build failed");
  process.exit(result.exitCode ?? 1);
}
