/**
 * `seamless download` of a 1 GiB buffer from `seamless hashserver` on loopback, verified;
 * baselines in the same run: curl fetching the same URL into a file in the same directory
 * (same work, no verification), and dd writing 1 GiB there (what the disk allows).
 */
import { mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BINARY, makeLargeFile, median, removeDir, report, scratchDir, timeCommand } from "./harness.ts";

const dir = scratchDir("download");
let server: ReturnType<typeof Bun.spawn> | null = null;
try {
  const size = 1024 ** 3;
  const big = join(dir, "big.bin");
  await makeLargeFile(big, size);
  const env = { ...process.env, SEAMLESS_CACHE: join(dir, "cache") };
  mkdirSync(join(dir, "buffers"));
  writeFileSync(join(dir, "status.json"), "{}");
  server = Bun.spawn([BINARY, "hashserver", "buffers", "--writable", "--port-range", "42000", "42999", "--status-file", "status.json"], { cwd: dir, env, stdout: "ignore", stderr: "ignore" });
  let port = 0;
  for (let i = 0; i < 100 && !port; i++) {
    await Bun.sleep(50);
    port = JSON.parse(readFileSync(join(dir, "status.json"), "utf8")).port ?? 0;
  }
  const url = `http://127.0.0.1:${port}`;
  timeCommand([BINARY, "upload", "-q", "-y", "--hashserver", url, "big.bin"], { cwd: dir, env });
  const checksum = readFileSync(join(dir, "big.bin.CHECKSUM"), "utf8").trim();
  const dd = timeCommand(["dd", "if=/dev/zero", `of=${join(dir, "dd.bin")}`, "bs=4M", "count=256"]);
  rmSync(join(dir, "dd.bin"));
  const curl = median([0, 1, 2].map(() => {
    rmSync(join(dir, "curl.bin"), { force: true });
    return timeCommand(["curl", "-sf", "-o", join(dir, "curl.bin"), `${url}/${checksum}`]);
  }));
  rmSync(join(dir, "curl.bin"), { force: true });
  const ours = median([0, 1, 2].map(() => {
    rmSync(join(dir, "out.bin"), { force: true });
    return timeCommand([BINARY, "download", "-q", "--hashserver", url, checksum, "-o", "out.bin"], { cwd: dir, env });
  }));
  const mbps = (ms: number) => size / ms / 1e3;
  console.log(`dd to this disk: ${mbps(dd).toFixed(0)} MB/s; curl into a file (no verification): ${mbps(curl).toFixed(0)} MB/s`);
  report("download 1 GiB from hashserver, verified", `${mbps(ours).toFixed(0)} MB/s (${(curl / ours).toFixed(2)}x curl)`, ">= 400 MB/s", mbps(ours) >= 400);
} finally {
  server?.kill();
  await server?.exited;
  removeDir(dir);
}
