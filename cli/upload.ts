import { existsSync, statSync } from "node:fs";
import { fileSidecarPath, readChecksumSidecar } from "../lib/checksum/sidecar.ts";
import { SeamlessError, UsageError } from "../lib/errors.ts";
import { StatCache } from "../lib/checksum/stat-cache.ts";
import { statCachePathOf } from "../lib/buffers/cache-dir.ts";
import { openBufferStoreFor } from "../lib/delegation/mod.ts";
import { BufferDir } from "../lib/buffers/bufferdir.ts";
import {
  findMissing, planUpload, removeInputs, sidecarFilesOf, sourceLength, staleSidecars, storeAndWriteSidecars, storeIntoDestination, writeSidecars,
  type ExistingPolicy, type TransferMode, type UploadPlan,
} from "../lib/buffers/transfer.ts";
import { configFromFlags } from "./configure.ts";
import { type CommandSpec, HASHSERVER_OPTION, SCOPE_OPTIONS, VERBOSITY_OPTIONS, missingArgumentsError, parseOrHelp, verbosityOf } from "./args.ts";
import { commandLog, formatSize, parseHumanSize, progressLine } from "./output.ts";
import { confirm, type AutoConfirm } from "./confirm.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "upload",
  usage: "seamless upload [options] FILE_OR_DIR...",
  summary:
    "Store files and directories as content-addressed buffers and write their sidecars:\n" +
    "F.CHECKSUM for a file (F minus .gz/.zst), D.INDEX and D.CHECKSUM for a directory.\n" +
    "Buffers go to the cache directory, to --hashserver URL, or straight into --destination DIR.",
  positionals: "remainder",
  options: [
    ...VERBOSITY_OPTIONS,
    HASHSERVER_OPTION,
    ...SCOPE_OPTIONS,
    { key: "destination", names: ["--destination"], kind: "value", metavar: "DIR", help: "write directly into buffer directory DIR" },
    { key: "mode", names: ["--copy"], kind: "flag", constValue: "copy", help: "with --destination: copy files (default)" },
    { key: "mode", names: ["--hardlink"], kind: "flag", constValue: "hardlink", help: "with --destination: hard-link files" },
    { key: "mode", names: ["--symlink"], kind: "flag", constValue: "symlink", help: "with --destination: symlink files" },
    { key: "incremental", names: ["--incremental"], kind: "flag", help: "with --hardlink: skip inputs already linked" },
    { key: "policy", names: ["--dest-skip"], kind: "flag", constValue: "skip", help: "keep existing destination entries (default)" },
    { key: "policy", names: ["--dest-verify"], kind: "flag", constValue: "verify", help: "verify existing destination entries" },
    { key: "policy", names: ["--dest-repair"], kind: "flag", constValue: "repair", help: "rewrite existing destination entries" },
    { key: "move", names: ["-m", "-mv", "--move"], kind: "flag", help: "remove the inputs after upload (sidecars stay)" },
    { key: "confirm", names: ["-y", "--yes"], kind: "flag", constValue: "yes", help: "confirm large uploads without asking" },
    { key: "confirm", names: ["-n", "--no"], kind: "flag", constValue: "no", help: "refuse large uploads without asking" },
    { key: "noStatCache", names: ["--no-stat-cache"], kind: "flag", help: "hash every file even if unchanged since last time" },
    { key: "json", names: ["--json"], kind: "flag", help: 'print what was uploaded: {"inputs": [{"path", "checksum"}], "stored_files", "stored_bytes"}' },
  ],
  epilog: "Large uploads to a server ask first: SEAMLESS_MAX_UPLOAD_FILES (400), SEAMLESS_MAX_UPLOAD_SIZE (100 MB).",
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const option = positionals.find((p) => p.startsWith("-") && p !== "-");
  if (option) throw new UsageError(`Option ${option} must be specified before upload targets`);
  if (positionals.length === 0) throw missingArgumentsError(spec);
  const log = commandLog("upload", verbosityOf(values));
  const destination = values.destination as string | undefined;
  const mode = (values.mode as TransferMode | undefined) ?? "copy";
  if (values.mode && !destination) throw new UsageError("--copy/--hardlink/--symlink need --destination");
  if (values.incremental && (mode !== "hardlink" || !destination)) throw new UsageError("--incremental needs --hardlink and --destination");

  const config = configFromFlags(values);
  const statCache = values.noStatCache ? null : new StatCache(statCachePathOf(config.cacheDir), { minBytes: 0 });
  let plan: UploadPlan | undefined;
  const stored = { files: 0, bytes: 0 };
  try {
    const store = destination ? destinationStore(destination) : await openBufferStoreFor(config, { log });
    const localStore = !destination && store instanceof BufferDir;
    // Which buffers are stored is then known by the time the inputs are hashed.
    if (store instanceof BufferDir) store.listAhead(positionals.length);
    plan = await planUpload(positionals, statCache, { localStore, directStore: localStore && store instanceof BufferDir ? store : undefined });
    const policy = (values.policy as ExistingPolicy | undefined) ?? "skip";
    // verify/repair must see the entries that exist already, so they get every buffer.
    const missingFound = destination && policy !== "skip" ? Promise.resolve([...plan.buffers.values()]) : findMissing(store, plan);
    missingFound.catch(() => {}); // awaited below; an error of ours first must not leave it unhandled
    // Sidecars are compared with those on disk while the store answers, and written only after
    // storing. With a helper (a local store, whose answer is quick) this thread compares them
    // where it would otherwise wait for the helper to store.
    const compareLater = plan.helper !== null;
    const sidecars = compareLater ? sidecarFilesOf(plan) : await staleSidecars(plan);
    const missing = await missingFound;
    const total = missing.reduce((sum, source) => sum + sourceLength(source), 0);
    if (missing.length === 0) {
      const { count, bytes } = plan.storedAlready;
      log.message(count === 0 ? 1 : 0, count === 0 ? "Upload no files" : `Upload ${count} files, total ${formatSize(bytes)}`);
      Object.assign(stored, { files: count, bytes });
      await writeSidecars(sidecars, { compare: compareLater });
    } else {
      const remote = !destination && !localStore;
      const maxFiles = Number(config.limits.maxUploadFiles ?? 400);
      const maxSize = parseHumanSize(config.limits.maxUploadSize ?? "100 MB");
      if (remote && (missing.length > maxFiles || total > maxSize)) {
        const auto = (values.confirm as AutoConfirm | undefined) ?? null;
        if (!confirm(`Confirm upload of ${missing.length} files, total ${formatSize(total)}? (y/[n])? `, auto, false)) {
          throw new SeamlessError(`Cannot confirm upload of ${missing.length} files, total ${formatSize(total)}. Exiting.`, { hint: "pass -y to confirm" });
        }
      }
      const { count, bytes } = plan.storedAlready;
      log.message(0, `Upload ${missing.length + count} files, total ${formatSize(total + bytes)}`);
      Object.assign(stored, { files: missing.length + count, bytes: total + bytes });
      if (destination) {
        storeIntoDestination(store as BufferDir, missing, mode, policy, values.incremental === true);
        await writeSidecars(sidecars);
      } else {
        await storeAndWriteSidecars(store, missing, sidecars, { onProgress: progressLine(log, total, "uploaded"), helper: plan.helper, meanwhile: plan.recordStatCache, compare: compareLater });
      }
    }
    plan.recordStatCache();
    if (values.json) writeStdout(`${JSON.stringify({ inputs: uploadedInputs(plan.paths), stored_files: stored.files, stored_bytes: stored.bytes }, null, 2)}\n`);
    if (values.move) removeInputs(plan.paths);
    store.close();
  } finally {
    plan?.helper?.close();
    statCache?.close();
  }
  return 0;
}

/** Each top-level input with the checksum its sidecar now holds. */
function uploadedInputs(paths: string[]): { path: string; checksum: string }[] {
  return paths.map((path) => {
    const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
    const sidecar = existsSync(`${trimmed}.INDEX`) ? `${trimmed}.CHECKSUM` : fileSidecarPath(trimmed);
    return { path, checksum: readChecksumSidecar(sidecar) };
  });
}

function destinationStore(directory: string): BufferDir {
  if (!existsSync(directory) || !statSync(directory).isDirectory()) {
    throw new SeamlessError(`Destination "${directory}" is not a directory`);
  }
  return new BufferDir(directory, { fileMode: 0o444 });
}
