/**
 * `seamless checksum` of a 1 GiB file vs `openssl dgst -sha256` (and sha256sum) on the same warm
 * file; then 1 GiB in 16 files, where seamless hashes on every core, against openssl in one
 * process and in one process per core (`xargs -P`).
 */
import { rmSync } from "node:fs";
import { availableParallelism } from "node:os";
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
  rmSync(file);

  const cores = availableParallelism();
  const parts = Array.from({ length: 16 }, (_, i) => join(dir, `part${String(i).padStart(2, "0")}.bin`));
  for (const part of parts) await makeLargeFile(part, size / parts.length);
  const opensslOne = medianTime(["openssl", "dgst", "-sha256", ...parts], 3);
  const opensslPerCore = medianTime(["sh", "-c", `printf '%s\\n' "$@" | xargs -P ${cores} -n ${parts.length / cores} openssl dgst -sha256`, "sh", ...parts], 3);
  const oursMany = medianTime([BINARY, "checksum", "--no-stat-cache", ...parts], 3, { env });
  console.log(`16 x 64 MiB on ${cores} cores: openssl ${gbps(opensslOne)}, openssl x${cores} (xargs -P) ${gbps(opensslPerCore)}, seamless ${gbps(oursMany)}`);
  report("checksum 16 x 64 MiB vs openssl, one process", `${(opensslOne / oursMany).toFixed(2)}x (${gbps(oursMany)})`, cores > 1 ? ">= 1.5x (both cores)" : "(one core)", cores === 1 || opensslOne / oursMany >= 1.5);
  report("checksum 16 x 64 MiB vs openssl per core", `${(opensslPerCore / oursMany).toFixed(2)}x`, "(no target; parity is the ceiling)", true);
} finally {
  removeDir(dir);
}
