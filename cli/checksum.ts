import { stat } from "node:fs/promises";
import { checksumFileAsync, indexDirectory } from "../lib/checksum/file-checksum.ts";
import { IO_CONCURRENCY, mapConcurrent } from "../lib/concurrency/map-concurrent.ts";
import { writeChecksumSidecar, writeFileIfChanged } from "../lib/checksum/sidecar.ts";
import { stripCompressionSuffix } from "../lib/checksum/compression.ts";
import { StatCache } from "../lib/checksum/stat-cache.ts";
import { resolveCacheDir, statCachePathOf } from "../lib/buffers/cache-dir.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "checksum",
  usage: "seamless checksum [--write] PATH...",
  summary:
    "Print the Seamless checksum of each file (SHA-256 of its bytes, decompressed for .gz/.zst) and the\n" +
    "index checksum of each directory, one 'CHECKSUM  PATH' line each, like sha256sum.",
  positionals: "some",
  options: [
    { key: "write", names: ["-w", "--write"], kind: "flag", help: "also write PATH.CHECKSUM (and DIR.INDEX for directories)" },
    { key: "noStatCache", names: ["--no-stat-cache"], kind: "flag", help: "hash every file even if unchanged since last time" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv, { requirePositionals: true });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const statCache = values.noStatCache ? null : new StatCache(statCachePathOf(resolveCacheDir()), { minBytes: 0 });
  let lines: string[] = [];
  try {
    // Many small files: async reads with bounded concurrency keep the disk and both cores busy.
    lines = await mapConcurrent(positionals, IO_CONCURRENCY, async (raw) => {
      const path = raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
      const stats = await stat(path, { bigint: true });
      if (stats.isDirectory()) {
        const { indexBuffer, checksum } = indexDirectory(path, statCache);
        if (values.write) {
          writeFileIfChanged(`${path}.INDEX`, indexBuffer);
          writeChecksumSidecar(`${path}.CHECKSUM`, checksum);
        }
        return `${checksum}  ${raw}`;
      }
      const { checksum } = await checksumFileAsync(path, statCache, { stats });
      if (values.write) writeChecksumSidecar(`${stripCompressionSuffix(path)}.CHECKSUM`, checksum);
      return `${checksum}  ${raw}`;
    });
  } finally {
    statCache?.close();
    writeStdout(lines.length ? `${lines.join("\n")}\n` : "");
  }
  return 0;
}
