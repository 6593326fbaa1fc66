/**
 * `seamless upload` of 10,000 × 4 KiB files (with sidecars) into the local buffer directory,
 * then again unchanged; baseline: an in-process Bun loop that hashes, copies and writes a
 * sidecar per file, in the same run.
 */
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { BINARY, removeDir, report, scratchDir, timeCommand } from "./harness.ts";

const COUNT = 10_000;
const dir = scratchDir("upload");
try {
  // Two identical trees: the baseline's sidecars must not make the directory ours write into
  // larger (directory size changes the cost of creating files in it).
  const data = new Uint8Array(4096);
  const files: string[] = [];
  const bareFiles: string[] = [];
  mkdirSync(join(dir, "tree"));
  mkdirSync(join(dir, "bare-tree"));
  for (let i = 0; i < COUNT; i++) {
    crypto.getRandomValues(data);
    const name = `f${String(i).padStart(5, "0")}.dat`;
    for (const tree of ["tree", "bare-tree"]) {
      const fd = openSync(join(dir, tree, name), "w");
      writeSync(fd, data);
      closeSync(fd);
    }
    files.push(`tree/${name}`);
    bareFiles.push(`bare-tree/${name}`);
  }
  await Bun.sleep(200); // let the stat cache's racy-timestamp margin pass, as it would in real use

  // Baseline: a bare loop doing the same essential work, atomic writes included.
  const bareStore = join(dir, "bare");
  mkdirSync(bareStore);
  const bareStart = performance.now();
  for (const file of bareFiles) {
    const bytes = readFileSync(join(dir, file));
    const hex = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    let fd = openSync(join(bareStore, `${hex}.tmp`), "w");
    writeSync(fd, bytes);
    closeSync(fd);
    renameSync(join(bareStore, `${hex}.tmp`), join(bareStore, hex));
    fd = openSync(join(dir, `${file}.CHECKSUM.tmp`), "w");
    writeSync(fd, `${hex}\n`);
    closeSync(fd);
    renameSync(join(dir, `${file}.CHECKSUM.tmp`), join(dir, `${file}.CHECKSUM`));
  }
  const bareMs = performance.now() - bareStart;

  const env = { ...process.env, SEAMLESS_CACHE: join(dir, "cache") };
  const firstMs = timeCommand([BINARY, "upload", "-q", ...files], { cwd: dir, env });
  const secondMs = timeCommand([BINARY, "upload", "-q", ...files], { cwd: dir, env });
  const rate = (ms: number) => (COUNT / ms) * 1000;
  console.log(`bare Bun loop: ${rate(bareMs).toFixed(0)} files/s`);
  report("upload 10k x 4 KiB, first run", `${rate(firstMs).toFixed(0)} files/s (${(rate(firstMs) / rate(bareMs)).toFixed(2)}x bare)`, ">= 25,000 files/s", rate(firstMs) >= 25_000);
  report("upload 10k x 4 KiB, unchanged tree", `${rate(secondMs).toFixed(0)} files/s, ${(firstMs / secondMs).toFixed(1)}x faster`, ">= 3x faster than first", firstMs / secondMs >= 3);
} finally {
  removeDir(dir);
}
