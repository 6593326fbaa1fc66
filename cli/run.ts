import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { SeamlessError, UsageError } from "../lib/errors.ts";
import { StatCache } from "../lib/checksum/stat-cache.ts";
import { statCachePathOf } from "../lib/buffers/cache-dir.ts";
import { configFromFlags } from "./configure.ts";
import { writeFileAtomic } from "../lib/disk/atomic-write.ts";
import { parseCommandLineCached } from "../lib/bash/parse-cache.ts";
import { prepareBashTransformation } from "../lib/transformation/prepare-bash.ts";
import { executionDundersOf } from "../lib/transformation/dict.ts";
import { VERSION } from "../lib/version.ts";
import { serializePlain, stringifyPlain } from "../lib/serialize/plain-json.ts";
import { type CommandSpec, HASHSERVER_OPTION, SCOPE_OPTIONS, VERBOSITY_OPTIONS, formatHelp, parseOrHelp, verbosityOf } from "./args.ts";
import { commandLog } from "./output.ts";
import { futureRegistryOf, waitForFuture } from "../lib/execute/futures.ts";
import { withInterrupt } from "./interrupt.ts";
import { bashRunContext, withRunLog } from "../lib/runlog/record.ts";
import { runRequestOf } from "./run-request.ts";
import { stdoutIsTerminal, writeStdout, writeStderr } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "run",
  usage: "seamless run [options] 'COMMAND'",
  summary:
    "Run a bash command as a content-addressed transformation. File arguments are found, hashed and stored;\n" +
    "an identical later run is answered from the result cache without running anything. Stdout is the\n" +
    "command's output; with '> FILE' the result lands in FILE plus FILE.CHECKSUM.",
  positionals: "remainder",
  options: [
    ...VERBOSITY_OPTIONS,
    { key: "noRule1", names: ["-g1"], kind: "flag", help: "disable rule 1 (dotted words must be existing files)" },
    { key: "noRule2", names: ["-g2"], kind: "flag", help: "disable rule 2 (later words without extension must not be files)" },
    { key: "workdir", names: ["-w"], kind: "value", metavar: "DIR", help: "working directory for argument typing" },
    { key: "rootMode", names: ["-W"], kind: "flag", help: "working directory /" },
    { key: "mapping", names: ["-ms"], kind: "flag", constValue: "strip", help: "file mapping: strip directories" },
    { key: "mapping", names: ["-mx"], kind: "flag", constValue: "extension", help: "file mapping: file1, file2… plus extension" },
    { key: "unquote", names: ["-c"], kind: "flag", help: "take the single argument verbatim as the command" },
    { key: "capture", names: ["-cp", "--capture"], kind: "values", metavar: "SPEC", help: "extra result: F, F:LOCAL or :LOCAL (stdout)" },
    { key: "input", names: ["-i", "--input"], kind: "values", metavar: "PATH", help: "extra input file or directory" },
    { key: "inputFile", names: ["-I", "--input-file"], kind: "values", metavar: "FILE", help: "file listing input paths, one per line" },
    { key: "var", names: ["--var"], kind: "values", metavar: "NAME=VALUE", help: "variable that is part of the identity" },
    { key: "metavar", names: ["--metavar"], kind: "values", metavar: "NAME=VALUE", help: "variable outside the identity" },
    { key: "metafile", names: ["--metafile"], kind: "values", metavar: "FILE", help: "file outside the identity" },
    { key: "prologue", names: ["--prologue"], kind: "values", metavar: "CMD", help: "command prepended verbatim" },
    { key: "primary", names: ["--primary"], kind: "value", metavar: "N", help: "which command (1-based) is analysed for arguments" },
    { key: "confirm", names: ["-y", "--yes"], kind: "flag", constValue: "yes", help: "confirm uploads/downloads without asking" },
    { key: "confirm", names: ["-n", "--no"], kind: "flag", constValue: "no", help: "refuse large uploads/downloads" },
    { key: "noDownload", names: ["-nd", "--no-download"], kind: "flag", help: "write checksums, do not download results" },
    { key: "scratch", names: ["--scratch"], kind: "flag", help: "do not store result values" },
    { key: "directPrint", names: ["--direct-print"], kind: "flag", help: "record __direct_print__ in __meta__" },
    { key: "dry", names: ["--dry", "--dry-run"], kind: "flag", help: "prepare only" },
    { key: "force", names: ["--force"], kind: "flag", help: "execute even when the result is cached" },
    { key: "writeJob", names: ["-j", "--write-job"], kind: "value", metavar: "DIR", help: "with --dry: write the job to DIR" },
    { key: "upload", names: ["--upload"], kind: "flag", help: "with --dry: store inputs and the transformation" },
    HASHSERVER_OPTION,
    ...SCOPE_OPTIONS,
    { key: "fingertip", names: ["--fingertip"], kind: "flag", help: "accepted; no effect (as in seamless-run)" },
    { key: "local", names: ["--local"], kind: "flag", help: "run locally even if the configuration says execution: remote" },
    { key: "qsubmit", names: ["--qsubmit", "--qsub"], kind: "flag", help: "append the job to $SEAMLESS_QUEUE_FILE for 'seamless queue'" },
    { key: "writeRemoteJob", names: ["--write-remote-job"], kind: "value", metavar: "DIR", help: "not available yet" },
    { key: "node", names: ["--node"], kind: "value", metavar: "NODE", help: "not available yet" },
    { key: "docker", names: ["--docker", "--docker-image"], kind: "value", metavar: "IMG", help: "run in this container image (docker or podman; else on the host, with a warning); not part of the identity" },
    { key: "conda", names: ["--conda", "--conda-env", "--conda-environment"], kind: "value", metavar: "ENV", help: "activate this conda environment ($CONDA_ROOT or `conda info --base`); not part of the identity" },
    { key: "undo", names: ["--undo"], kind: "flag", help: "not available (always fails in seamless-run too)" },
  ],
  epilog:
    "Cache: $SEAMLESS_CACHE (default ~/.cache/seamless): buffers in __TOPLEVEL__/, results in __TOPLEVEL__/seamless.db.\n" +
    "Remote: $SEAMLESS_HASHSERVER (buffers) and $SEAMLESS_DATABASE (results) name servers; see also $SEAMLESS_REMOTE_CLIENTS.\n" +
    "Exit codes: 0 ok, 1 error, 2 usage, 130 interrupted.",
};

export async function main(argv: string[]): Promise<number> {
  return withInterrupt("seamless run", (signal) => runCommand(argv, signal));
}

async function runCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  for (const [key, flag] of [["writeRemoteJob", "--write-remote-job"], ["node", "--node"]] as const) {
    if (values[key] !== undefined) throw new UsageError(`${flag} is not available yet in this version of seamless`);
  }
  if (values.undo) throw new SeamlessError("--undo is not implemented");
  if (values.qsubmit && values.dry) throw new UsageError("--qsubmit cannot be combined with --dry");
  if (!values.dry && (values.writeJob !== undefined || values.upload)) throw new UsageError("-j/--write-job and --upload require --dry");
  const jobDir = values.writeJob as string | undefined;
  if (jobDir !== undefined && existsSync(jobDir)) throw new SeamlessError(`Job directory "${jobDir}" already exists`);
  if (positionals.length === 0) {
    // cli-spec §3.19: no command is exit 1 with the help, as seamless-run does (flag errors are 2).
    writeStderr(formatHelp(spec));
    return 1;
  }
  const request = runRequestOf(values, positionals); // shared with explain and forget
  const { command, workdir } = request;
  const log = commandLog("run", verbosityOf(values));
  const config = configFromFlags(values);
  if (!values.local) for (const note of config.notes) log.message(0, note);
  const cacheDir = config.cacheDir;
  log.message(1, `Verbosity set to ${log.verbosity}`);
  log.message(1, `seamless run ${VERSION}`);
  log.message(3, `Command: ${JSON.stringify(values.unquote ? [command] : positionals)}`);
  const line = await parseCommandLineCached(command, cacheDir);
  const statCache = new StatCache(statCachePathOf(cacheDir));
  let prepared;
  try {
    prepared = await prepareBashTransformation(request, line, statCache, (path) => waitForFuture(path, log, { registry: futureRegistryOf(cacheDir), signal }));
  } finally {
    statCache.close();
  }
  if (log.verbosity >= 1) {
    // Only built when shown: serializing them is a noticeable part of a cache hit.
    const first = line.commands[Math.max(0, request.primary - 1)];
    log.message(1, `First command: ${JSON.stringify(first?.words.map((w) => w.text) ?? [])}`);
    log.message(1, `argtypes dict: ${JSON.stringify(prepared.argTypes)}`);
    log.message(1, `Identify result targets: ${prepared.resultTargets ? JSON.stringify(Object.fromEntries(prepared.resultTargets)) : "none (capture stdout)"}`);
    log.message(1, `bash command:\n${prepared.code.trimEnd()}`);
    log.message(2, `file/directory checksum dict:\n${stringifyPlain(prepared.argTypes)}`);
    log.message(3, `Transformation checksum: ${prepared.tfChecksum}`);
  }

  if (!prepared.resultTargets && (values.scratch || values.noDownload)) {
    // cli-spec §3.11: refused before anything runs or is written, with --dry too.
    throw new SeamlessError("Download disabled. Refuse to print output to screen.");
  }
  if (values.dry) {
    if (values.upload) {
      const { storePreparedBuffers } = await import("../lib/execute/run-bash.ts");
      await storePreparedBuffers(prepared, config, log);
    }
    if (jobDir !== undefined) {
      mkdirSync(jobDir);
      const dunders = executionDundersOf(prepared.dict);
      delete dunders.__env__;
      if (Object.keys(dunders).length > 0) writeFileAtomic(join(jobDir, "dunder.json"), serializePlain(dunders));
      if (values.upload) writeFileAtomic(join(jobDir, "transformation.json.CHECKSUM"), prepared.tfChecksum);
      else {
        writeFileAtomic(join(jobDir, "transformation.json"), prepared.tfBuffer);
        writeFileAtomic(join(jobDir, "command.txt"), prepared.codeBuffer);
        if (prepared.envBuffer) writeFileAtomic(join(jobDir, "env.json"), prepared.envBuffer);
      }
    }
    if (values.upload || jobDir !== undefined) writeStdout(`${prepared.tfChecksum}\n`);
    return 0;
  }
  if (values.qsubmit) {
    const { submitToQueueFile } = await import("./queue/qsubmit.ts");
    return submitToQueueFile(prepared, {
      argv, log, workdir: (values.workdir as string | undefined) ?? process.cwd(), confirm: values.confirm as string | undefined,
      scratch: values.scratch === true, download: values.noDownload !== true, config,
    });
  }
  const { runPrepared } = await import("../lib/execute/run-bash.ts");
  const { remoteExecutionOf } = await import("./remote.ts");
  const remote = values.local ? {} : await remoteExecutionOf(config, log);
  const { recoverFromCorruptBuffers } = await import("../lib/execute/recover-corrupt.ts");
  return recoverFromCorruptBuffers(() => withRunLog(bashRunContext(cacheDir, command, prepared, log), (onComputed) => runPrepared(prepared, {
    log,
    config,
    ...remote,
    workdir,
    scratch: values.scratch === true,
    download: values.noDownload !== true && values.scratch !== true,
    writeStdout,
    writeStderr,
    signal,
    onComputed,
    force: values.force === true,
    liveStdout: stdoutIsTerminal,
  })), log);
}

