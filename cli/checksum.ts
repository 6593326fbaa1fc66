import { statSync } from "node:fs";
import { checksumFile, indexDirectory } from "../lib/checksum/file-checksum.ts";
import { writeChecksumSidecar } from "../lib/checksum/sidecar.ts";
import { stripCompressionSuffix } from "../lib/checksum/compression.ts";
import { writeFileAtomic } from "../lib/buffers/atomic-write.ts";
import { StatCache } from "../lib/checksum/stat-cache.ts";
import { resolveCacheDir, statCachePathOf } from "../lib/buffers/cache-dir.ts";
import { formatHelp, parseCommandArgs, type CommandSpec } from "./args.ts";
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
  const { values, positionals, help } = parseCommandArgs(spec, argv);
  if (help) {
    writeStdout(formatHelp(spec));
    return 0;
  }
  if (positionals.length === 0) {
    writeStdout(formatHelp(spec));
    return 2;
  }
  const statCache = values.noStatCache ? null : new StatCache(statCachePathOf(resolveCacheDir()));
  const lines: string[] = [];
  try {
    for (const raw of positionals) {
      const path = raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
      if (statSync(path).isDirectory()) {
        const { indexBuffer, checksum } = indexDirectory(path, statCache);
        if (values.write) {
          writeFileAtomic(`${path}.INDEX`, indexBuffer);
          writeChecksumSidecar(`${path}.CHECKSUM`, checksum);
        }
        lines.push(`${checksum}  ${raw}`);
      } else {
        const { checksum } = checksumFile(path, statCache);
        if (values.write) writeChecksumSidecar(`${stripCompressionSuffix(path)}.CHECKSUM`, checksum);
        lines.push(`${checksum}  ${raw}`);
      }
    }
  } finally {
    statCache?.close();
    writeStdout(lines.length ? `${lines.join("\n")}\n` : "");
  }
  return 0;
}
