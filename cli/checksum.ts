import { statSync } from "node:fs";
import { checksumFiles, indexDirectoryAsync } from "../lib/checksum/file-checksum.ts";
import { fileSidecarPath, writeChecksumSidecar, writeFileIfChanged } from "../lib/checksum/sidecar.ts";
import { StatCache } from "../lib/checksum/stat-cache.ts";
import { statCachePathOf } from "../lib/buffers/cache-dir.ts";
import { cacheDirOf } from "../lib/config/mod.ts";
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
    { key: "json", names: ["--json"], kind: "flag", help: 'JSON output: [{"path", "checksum", "type"}]' },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv, { requirePositionals: true });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const statCache = values.noStatCache ? null : new StatCache(statCachePathOf(cacheDirOf(process.env)), { minBytes: 0 });
  const lines: string[] = new Array(positionals.length);
  const kinds: ("file" | "directory")[] = new Array(positionals.length);
  try {
    const paths = positionals.map((raw) => (raw.length > 1 ? raw.replace(/\/+$/, "") : raw));
    const allStats = paths.map((path) => statSync(path));
    const files: number[] = [];
    for (const [index, path] of paths.entries()) {
      if (!allStats[index]!.isDirectory()) {
        files.push(index);
        continue;
      }
      const { indexBuffer, checksum } = await indexDirectoryAsync(path, statCache);
      if (values.write) {
        writeFileIfChanged(`${path}.INDEX`, indexBuffer);
        writeChecksumSidecar(`${path}.CHECKSUM`, checksum);
      }
      lines[index] = `${checksum}  ${positionals[index]}`;
      kinds[index] = "directory";
    }
    await checksumFiles(files.map((index) => paths[index]!), files.map((index) => allStats[index]!), statCache, {
      onResult: (k, { checksum, fromStatCache }) => {
        const index = files[k]!;
        if (values.write) writeChecksumSidecar(fileSidecarPath(paths[index]!), checksum, fromStatCache);
        lines[index] = `${checksum}  ${positionals[index]}`;
      },
    });
  } finally {
    statCache?.close();
    // What was computed before an error is still printed, in argument order.
    const done = lines.filter((line) => line !== undefined);
    if (values.json) {
      const entries = lines.flatMap((line, index) => (line === undefined ? [] : [{ path: positionals[index], checksum: line.slice(0, 64), type: kinds[index] ?? "file" }]));
      writeStdout(`${JSON.stringify(entries, null, 2)}\n`);
    } else writeStdout(done.length ? `${done.join("\n")}\n` : "");
  }
  return 0;
}
