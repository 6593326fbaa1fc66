/** `seamless checksum` of a 1 GiB file vs `openssl dgst -sha256` (and sha256sum) on the same warm file. */
import { join } from "node:path";
import { BINARY, makeLargeFile, medianTime, removeDir, report, scratchDir } from "./harness.ts";

const dir = scratchDir("checksum");
try {
  const file = join(dir, "big.bin");
  const size = 1024 ** 3;
  await makeLargeFile(file, size);
  const env = { ...process.env, SEAMLESS_CACHE: join(dir, "cache") };
  const openssl = medianTime(["openssl", "dgst", "-sha256", file], 3);
  const sha256sum = medianTime(["sha256sum", file], 1);
  const ours = medianTime([BINARY, "checksum", "--no-stat-cache", file], 3, { env });
  const gbps = (ms: number) => `${(size / ms / 1e6).toFixed(2)} GB/s`;
  console.log(`openssl ${gbps(openssl)}, sha256sum ${gbps(sha256sum)}, seamless ${gbps(ours)}`);
  report("checksum 1 GiB vs openssl (throughput ratio)", `${(openssl / ours).toFixed(2)}x (${gbps(ours)})`, ">= 1.0x", openssl / ours >= 1.0);
  const cached = medianTime([BINARY, "checksum", file], 5, { env, warmup: 1 });
  report("checksum 1 GiB, unchanged (stat cache)", `${cached.toFixed(1)} ms`, "(no target)", true);
} finally {
  removeDir(dir);
}
