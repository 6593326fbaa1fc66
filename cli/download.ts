import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { removeAbandonedTempFilesIn } from "../lib/buffers/temp-files.ts";
import { SeamlessError, UsageError } from "../lib/errors.ts";
import { writeChecksumSidecar } from "../lib/checksum/sidecar.ts";
import type { CompressionSuffix } from "../lib/checksum/compression.ts";
import { openBufferStoreFor } from "../lib/delegation/mod.ts";
import type { SeamlessConfig } from "../lib/config/mod.ts";
import { configFromFlags } from "./configure.ts";
import { BufferDir } from "../lib/buffers/bufferdir.ts";
import {
  copyIndexFile, fetchFile, findUnlisted, loadDirectoryIndex, removeUnlisted, resolveDownloadItems, writeMemberSidecars,
  type DirectTransfer, type DownloadPolicy, type FileTarget,
} from "../lib/buffers/download.ts";
import { type CommandSpec, HASHSERVER_OPTION, SCOPE_OPTIONS, VERBOSITY_OPTIONS, parseOrHelp, verbosityOf } from "./args.ts";
import { commandLog, formatSize, parseHumanSize, progressLine } from "./output.ts";
import { ask, type AutoConfirm } from "./confirm.ts";
import type { BufferStore } from "../lib/buffers/store.ts";
import { mapConcurrent } from "../lib/concurrency/map-concurrent.ts";
import { writeStdout } from "./stdio.ts";
import type { Log } from "../lib/log.ts";

export const spec: CommandSpec = {
  name: "download",
  usage: "seamless download [options] PATH|PATH.CHECKSUM|DIR.INDEX|CHECKSUM...",
  summary:
    "Fetch the buffers named by .CHECKSUM/.INDEX sidecars or raw checksums into files and directories.\n" +
    "Every buffer is verified; files are written atomically; existing files are kept (--dest-skip).",
  positionals: "some",
  options: [
    ...VERBOSITY_OPTIONS,
    HASHSERVER_OPTION,
    ...SCOPE_OPTIONS,
    { key: "destination", names: ["--destination"], kind: "value", metavar: "DIR", help: "read buffers from buffer directory DIR" },
    { key: "direct", names: ["--copy"], kind: "flag", constValue: "copy", help: "with --destination: copy (default)" },
    { key: "direct", names: ["--hardlink"], kind: "flag", constValue: "hardlink", help: "with --destination: hard-link" },
    { key: "direct", names: ["--softlink", "--symlink"], kind: "flag", constValue: "symlink", help: "with --destination: symlink" },
    { key: "policy", names: ["--dest-skip"], kind: "flag", constValue: "skip", help: "keep existing files (default)" },
    { key: "policy", names: ["--dest-verify"], kind: "flag", constValue: "verify", help: "check existing files against their checksum" },
    { key: "policy", names: ["--dest-repair"], kind: "flag", constValue: "repair", help: "rewrite existing files" },
    { key: "destRm", names: ["--dest-rm"], kind: "flag", help: "delete files in target directories that the index does not list" },
    { key: "output", names: ["-o", "--output"], kind: "values", metavar: "PATH", help: "output path for the Nth argument (repeatable)" },
    { key: "stdout", names: ["--stdout"], kind: "flag", help: "write the single file's bytes to stdout" },
    { key: "directory", names: ["--directory"], kind: "flag", help: "treat raw checksums as directory-index checksums" },
    { key: "index", names: ["--index"], kind: "flag", help: "for directories: write a .CHECKSUM per member instead of downloading" },
    { key: "compression", names: ["--compression"], kind: "value", metavar: "zst|gz", help: "compress outputs and add the suffix" },
    { key: "confirm", names: ["-y", "--yes"], kind: "flag", constValue: "yes", help: "download large targets without asking" },
    { key: "confirm", names: ["-n", "--no"], kind: "flag", constValue: "no", help: "skip large targets without asking" },
    { key: "json", names: ["--json"], kind: "flag", help: 'print the files: [{"path", "checksum", "outcome": "written"|"skipped"}]' },
  ],
  epilog: "Large targets are confirmed first: SEAMLESS_MAX_DOWNLOAD_FILES (2000), SEAMLESS_MAX_DOWNLOAD_SIZE (500 MB).",
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv, { requirePositionals: true });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const log = commandLog("download", verbosityOf(values));
  const compressionName = values.compression as string | undefined;
  if (compressionName !== undefined && compressionName !== "zst" && compressionName !== "gz") {
    throw new UsageError(`--compression must be "zst" or "gz", not "${compressionName}"`);
  }
  const compression = compressionName ? (`.${compressionName}` as CompressionSuffix) : null;
  const policy = (values.policy as DownloadPolicy | undefined) ?? "skip";
  const destination = values.destination as string | undefined;
  if (values.direct && !destination) throw new UsageError("--copy/--hardlink/--symlink need --destination");
  if (destination && (!existsSync(destination) || !statSync(destination).isDirectory())) {
    throw new SeamlessError(`Destination "${destination}" is not a directory`);
  }
  const config = configFromFlags(values);
  const store = destination ? new BufferDir(destination) : await openBufferStoreFor(config, { log });
  const items = resolveDownloadItems(positionals, {
    outputs: (values.output as string[] | undefined) ?? [],
    forceDirectory: values.directory === true,
    indexOnly: values.index === true,
  });

  if (values.stdout) {
    const item = items[0];
    if (items.length !== 1 || item?.kind !== "file") throw new UsageError("--stdout needs exactly one file");
    const bytes = await store.get(item.target.checksum);
    if (!bytes) throw new SeamlessError(`Cannot download buffer "${item.target.checksum}": not found in ${store.location}`);
    writeStdout(bytes);
    return 0;
  }

  // A killed download leaves temp files next to its single-file targets: a rerun removes them.
  for (const parent of new Set(items.flatMap((item) => (item.kind === "file" ? [dirname(item.target.path)] : [])))) removeAbandonedTempFilesIn(parent);
  const files: FileTarget[] = [];
  const groups: { label: string; files: FileTarget[] }[] = [];
  const finishers: (() => void)[] = [];
  for (const item of items) {
    if (item.kind === "file") {
      files.push(item.target);
      groups.push({ label: item.target.path, files: [item.target] });
      continue;
    }
    await loadDirectoryIndex(item, store, log);
    const index = item.index!;
    if (item.copyIndexTo) copyIndexFile(item.indexPath, item.copyIndexTo);
    if (values.index) {
      writeMemberSidecars(item.directory, index);
      if (item.copyIndexTo) writeChecksumSidecar(`${item.directory}.CHECKSUM`, item.checksum!);
      continue;
    }
    const unlisted = findUnlisted(item.directory, index, compression ?? "");
    if (unlisted.length > 0) {
      if (!values.destRm) {
        throw new SeamlessError(`Directory '${item.directory}' contains ${unlisted.length} unlisted entries; use --dest-rm to remove them`);
      }
      removeUnlisted(unlisted);
    }
    const members = Object.entries(index).map(([key, checksum]) => ({ checksum, path: join(item.directory, key) }));
    files.push(...members);
    groups.push({ label: item.directory, files: members });
    finishers.push(() => writeChecksumSidecar(`${item.directory}.CHECKSUM`, item.checksum!));
  }

  const allowed = await confirmDownloads(store, groups, (values.confirm as AutoConfirm | undefined) ?? null, log, config.limits);
  files.splice(0, files.length, ...files.filter((file) => allowed.has(file)));
  let skipped = 0;
  const missing: FileTarget[] = [];
  const outcomes = new Map<FileTarget, string>();
  const direct = (values.direct as DirectTransfer | undefined) ?? null;
  const progress = files.length === 1 ? progressLine(log, null, "downloaded") : undefined;
  await mapConcurrent(files, 8, async (target) => {
    const outcome = await fetchFile(store, target, policy, compression, direct, progress);
    if (outcome === "skipped") skipped++;
    outcomes.set(target, outcome === "skipped" ? "skipped" : "written");
    if (outcome === "missing") {
      missing.push(target);
      log.message(0, `Cannot download contents of file '${target.path}', checksum ${target.checksum}: not found in ${store.location}`);
    }
  });
  if (skipped > 0) log.message(2, `Skip ${skipped} files that already exist`);
  if (missing.length > 0) {
    throw new SeamlessError(`${missing.length} buffer(s) could not be downloaded, first: "${missing[0]!.checksum}"`);
  }
  for (const finish of finishers) finish();
  store.close();
  if (values.json) writeStdout(`${JSON.stringify(files.map((file) => ({ path: file.path, checksum: file.checksum, outcome: outcomes.get(file) })), null, 2)}\n`);
  return 0;
}

/**
 * The download confirmation of cli-spec §5: a target with more files than
 * SEAMLESS_MAX_DOWNLOAD_FILES (2000) or more bytes than SEAMLESS_MAX_DOWNLOAD_SIZE (500 MB;
 * an unknown length counts as 1e10) is confirmed first, biggest first. `-y` accepts, `-n`
 * skips with a message; without a terminal the default (yes) applies.
 */
async function confirmDownloads(store: BufferStore, groups: { label: string; files: FileTarget[] }[], auto: AutoConfirm, log: Log, limits: SeamlessConfig["limits"]): Promise<Set<FileTarget>> {
  const maxFiles = Number(limits.maxDownloadFiles ?? 2000);
  const maxSize = parseHumanSize(limits.maxDownloadSize ?? "500 MB");
  const all = groups.flatMap((group) => group.files);
  const allowed = new Set(all);
  if (all.length <= maxFiles && groups.every((group) => group.files.length <= maxFiles)) {
    const lengths = await store.lengths(all.map((file) => file.checksum));
    if (lengths.every((length) => length !== null) && lengths.reduce((sum, n) => sum + (n ?? 0), 0) <= maxSize) return allowed;
  }
  const sized = await Promise.all(groups.map(async (group) => {
    const lengths = await store.lengths(group.files.map((file) => file.checksum));
    const known = lengths.reduce<number>((sum, n) => sum + (n ?? 0), 0);
    const unknown = lengths.filter((n) => n === null).length;
    return { group, known, load: known + 1e10 * unknown + 100_000 * group.files.length };
  }));
  let acceptAll = auto === "yes";
  for (const { group, known, load } of sized.sort((a, b) => b.load - a.load)) {
    if (group.files.length <= maxFiles && load - 100_000 * group.files.length <= maxSize) continue;
    const description = `'${group.label}', ${group.files.length} files, ${formatSize(known)}`;
    if (acceptAll) continue;
    if (auto === "no") {
      log.message(0, `Skip download of ${description}`);
      for (const file of group.files) allowed.delete(file);
      continue;
    }
    const answer = ask(`Confirm download of ${description}? ([y]/n/a)? `);
    if (answer === "a") acceptAll = true;
    else if (answer === "n") for (const file of group.files) allowed.delete(file);
  }
  return allowed;
}
