/**
 * Builds `dist/seamless`, one self-contained executable (`bun build --compile`).
 * The tree-sitter `.wasm` files are embedded through `with { type: "file" }` imports.
 */
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const result = Bun.spawnSync(
  [process.execPath, "build", "--compile", "--minify", "--sourcemap=none", "cli/main.ts", "--outfile", "dist/seamless"],
  { stdout: "inherit", stderr: "inherit" },
);
if (result.exitCode !== 0) {
  console.error("build failed");
  process.exit(result.exitCode ?? 1);
}
