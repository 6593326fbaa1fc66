import { UsageError } from "../lib/errors.ts";
import { StatCache } from "../lib/checksum/stat-cache.ts";
import { statCachePathOf } from "../lib/buffers/cache-dir.ts";
import { openBufferStoreFor } from "../lib/delegation/mod.ts";
import { openDestination, upload, type ExistingPolicy, type TransferMode } from "../lib/upload/mod.ts";
import { configFromFlags } from "./configure.ts";
import { type CommandSpec, HASHSERVER_OPTION, SCOPE_OPTIONS, VERBOSITY_OPTIONS, missingArgumentsError, parseOrHelp, verbosityOf } from "./args.ts";
import { commandLog, parseHumanSize, progressLine } from "./output.ts";
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
  try {
    const store = destination ? openDestination(destination) : await openBufferStoreFor(config, { log });
    const auto = (values.confirm as AutoConfirm | undefined) ?? null;
    await upload(positionals, store, {
      statCache,
      destination: destination ? { mode, policy: values.policy as ExistingPolicy | undefined, incremental: values.incremental === true } : undefined,
      move: values.move === true,
      confirm: (question) => confirm(question, auto, false),
      limits: { maxFiles: Number(config.limits.maxUploadFiles ?? 400), maxBytes: parseHumanSize(config.limits.maxUploadSize ?? "100 MB") },
      log,
      progress: (total) => progressLine(log, total, "uploaded"),
      onUploaded: (summary) => {
        if (values.json) writeStdout(`${JSON.stringify({ inputs: summary.inputs, stored_files: summary.storedFiles, stored_bytes: summary.storedBytes }, null, 2)}\n`);
      },
    });
    store.close();
  } finally {
    statCache?.close();
  }
  return 0;
}
