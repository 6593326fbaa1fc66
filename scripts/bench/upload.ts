/**
 * `seamless upload` of 10,000 × 4 KiB files (with sidecars) into the local buffer directory,
 * then again unchanged; baseline: an in-process Bun loop that hashes, copies and writes a
 * sidecar per file, in the same rounds. With `BENCH_COMPARE_BINARY=path` (another build, e.g.
 * main's), that binary uploads an identical tree into its own cache in the same rounds too, in
 * alternating order, and the ratios of its times to ours are printed (use an even `BENCH_ROUNDS`).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BINARY, median, removeDir, report, scratchDir, timeCommand } from "./harness.ts";

const COUNT = 10_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const COMPARE = process.env.BENCH_COMPARE_BINARY;
const dir = scratchDir("upload");
try {
  // Two identical trees: the baseline's sidecars must not make the directory ours write into
  // larger (directory size changes the cost of creating files in it).
  const data = new Uint8Array(4096);
  const files: string[] = [];
  const bareFiles: string[] = [];
  const compareFiles: string[] = [];
  const trees = COMPARE ? ["tree", "bare-tree", "compare-tree"] : ["tree", "bare-tree"];
  for (const tree of trees) mkdirSync(join(dir, tree));
  for (let i = 0; i < COUNT; i++) {
    crypto.getRandomValues(data);
    const name = `f${String(i).padStart(5, "0")}.dat`;
    for (const tree of trees) {
      const fd = openSync(join(dir, tree, name), "w");
      writeSync(fd, data);
      closeSync(fd);
    }
    files.push(`tree/${name}`);
    bareFiles.push(`bare-tree/${name}`);
    compareFiles.push(`compare-tree/${name}`);
  }
  await Bun.sleep(200); // let the stat cache's racy-timestamp margin pass, as it would in real use

  // Rounds interleave the baseline and both uploads, so each ratio compares runs made under
  // the same machine conditions (this VM's speed drifts by 2× within a minute).
  const env = { ...process.env, SEAMLESS_CACHE: join(dir, "cache") };
  const bareStore = join(dir, "bare");
  const bare: number[] = [];
  const first: number[] = [];
  const second: number[] = [];
  const compareEnv = { ...process.env, SEAMLESS_CACHE: join(dir, "compare-cache") };
  const compareFirst: number[] = [];
  const compareSecond: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    removeDir(bareStore);
    removeDir(join(dir, "cache"));
    removeDir(join(dir, "compare-cache"));
    for (const file of [...files, ...bareFiles, ...compareFiles]) rmSync(join(dir, `${file}.CHECKSUM`), { force: true });
    bare.push(bareLoop(dir, bareFiles, bareStore));
    const ours = () => {
      first.push(timeCommand([BINARY, "upload", "-q", ...files], { cwd: dir, env }));
      second.push(timeCommand([BINARY, "upload", "-q", ...files], { cwd: dir, env }));
    };
    const theirs = () => {
      compareFirst.push(timeCommand([COMPARE!, "upload", "-q", ...compareFiles], { cwd: dir, env: compareEnv }));
      compareSecond.push(timeCommand([COMPARE!, "upload", "-q", ...compareFiles], { cwd: dir, env: compareEnv }));
    };
    if (COMPARE && round % 2 === 1) theirs();
    ours();
    if (COMPARE && round % 2 === 0) theirs();
  }
  if (process.env.BENCH_VERBOSE) console.log({ bare, first, second, compareFirst, compareSecond });
  const rate = (ms: number) => (COUNT / ms) * 1000;
  const firstVsBare = median(first.map((ms, i) => bare[i]! / ms));
  const speedup = median(first.map((ms, i) => ms / second[i]!));
  console.log(`bare Bun loop: ${rate(median(bare)).toFixed(0)} files/s (median of ${ROUNDS})`);
  report(`upload 10k x 4 KiB, first run (median of ${ROUNDS})`, `${rate(median(first)).toFixed(0)} files/s (${firstVsBare.toFixed(2)}x bare)`, ">= 25,000 files/s", rate(median(first)) >= 25_000);
  if (COMPARE) {
    const ratio = (theirs: number[], ours: number[]) => median(theirs.map((ms, i) => ms / ours[i]!)).toFixed(2);
    console.log(`info  ${COMPARE} took ${ratio(compareFirst, first)}x our time on a first upload, ${ratio(compareSecond, second)}x on the unchanged tree (medians of ${ROUNDS} per-round ratios; ${rate(median(compareFirst)).toFixed(0)} / ${rate(median(compareSecond)).toFixed(0)} files/s)`);
  }
  report("upload 10k x 4 KiB, unchanged tree", `${rate(median(second)).toFixed(0)} files/s, ${speedup.toFixed(1)}x faster`, ">= 3x faster than first", speedup >= 3);

  // The same files as one directory input (one .INDEX and .CHECKSUM instead of 10k sidecars); no target.
  const dirFirst: number[] = [];
  const dirSecond: number[] = [];
  const compareDirFirst: number[] = [];
  const compareDirSecond: number[] = [];
  for (const file of [...files, ...compareFiles]) rmSync(join(dir, `${file}.CHECKSUM`), { force: true });
  // An even number of rounds with another binary: each goes first (right after the clean-up) as often.
  const dirRounds = COMPARE ? 4 : 3;
  for (let round = 0; round < dirRounds; round++) {
    removeDir(join(dir, "cache"));
    removeDir(join(dir, "compare-cache"));
    for (const suffix of [".INDEX", ".CHECKSUM"]) for (const tree of ["tree", "compare-tree"]) rmSync(join(dir, `${tree}${suffix}`), { force: true });
    const ours = () => {
      dirFirst.push(timeCommand([BINARY, "upload", "-q", "tree"], { cwd: dir, env }));
      dirSecond.push(timeCommand([BINARY, "upload", "-q", "tree"], { cwd: dir, env }));
    };
    const theirs = () => {
      compareDirFirst.push(timeCommand([COMPARE!, "upload", "-q", "compare-tree"], { cwd: dir, env: compareEnv }));
      compareDirSecond.push(timeCommand([COMPARE!, "upload", "-q", "compare-tree"], { cwd: dir, env: compareEnv }));
    };
    if (COMPARE && round % 2 === 1) theirs();
    ours();
    if (COMPARE && round % 2 === 0) theirs();
  }
  console.log(`info  upload of the 10k files as one directory: first ${rate(median(dirFirst)).toFixed(0)} files/s, unchanged ${rate(median(dirSecond)).toFixed(0)} files/s (medians of ${dirRounds})`);
  if (COMPARE) {
    const ratio = (theirs: number[], ours: number[]) => median(theirs.map((ms, i) => ms / ours[i]!)).toFixed(2);
    console.log(`info  ${COMPARE} took ${ratio(compareDirFirst, dirFirst)}x our time on the directory's first upload, ${ratio(compareDirSecond, dirSecond)}x unchanged (medians of ${dirRounds})`);
  }

  // Into a cache that already holds many other buffers (a user's cache, not a fresh one); no target.
  const OTHERS = 200_000;
  removeDir(join(dir, "cache"));
  fillStore(join(dir, "cache", "__TOPLEVEL__"), OTHERS);
  const bigFirst: number[] = [];
  const bigSecond: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const file of files) rmSync(join(dir, `${file}.CHECKSUM`), { force: true });
    for (const checksum of readdirSync(join(dir, "cache", "__TOPLEVEL__")).filter((name) => name.length === 2)) {
      for (const name of readdirSync(join(dir, "cache", "__TOPLEVEL__", checksum))) if (!name.startsWith("other")) rmSync(join(dir, "cache", "__TOPLEVEL__", checksum, name));
    }
    bigFirst.push(timeCommand([BINARY, "upload", "-q", ...files], { cwd: dir, env }));
    bigSecond.push(timeCommand([BINARY, "upload", "-q", ...files], { cwd: dir, env }));
  }
  console.log(`info  upload 10k x 4 KiB into a cache holding ${OTHERS / 1000}k other buffers: first ${rate(median(bigFirst)).toFixed(0)} files/s, unchanged ${rate(median(bigSecond)).toFixed(0)} files/s (medians of 3)`);
} finally {
  removeDir(dir);
}

/** Fills a buffer directory's prefix directories with `count` small files named apart from any checksum. */
function fillStore(directory: string, count: number): void {
  for (let prefix = 0; prefix < 256; prefix++) mkdirSync(join(directory, prefix.toString(16).padStart(2, "0")), { recursive: true });
  writeFileSync(join(directory, ".HASHSERVER_PREFIX"), "1\n");
  for (let i = 0; i < count; i++) writeFileSync(join(directory, (i % 256).toString(16).padStart(2, "0"), `other${i}`), "");
}

/** The baseline: a bare loop doing the same essential work, atomic writes included; wall ms. */
function bareLoop(dir: string, bareFiles: string[], bareStore: string): number {
  mkdirSync(bareStore);
  const started = performance.now();
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
  return performance.now() - started;
}
