import { dirname, join } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { tryParseChecksum } from "../lib/checksum/checksum.ts";
import { readChecksumSidecar } from "../lib/checksum/sidecar.ts";
import { openBufferStoreFor, openResultCacheFor } from "../lib/delegation/mod.ts";
import { configFromFlags } from "./configure.ts";
import { writeFileAtomic } from "../lib/disk/atomic-write.ts";
import { SeamlessError, UsageError } from "../lib/errors.ts";
import { withInterrupt } from "./interrupt.ts";
import { computeTransformation, lockDirOf } from "../lib/execute/compute.ts";
import { loadTransformationDict } from "../lib/transformation/load.ts";
import { computeOnJobserver } from "../lib/execute/compute-remote.ts";
import { remoteExecutionOf } from "./remote.ts";
import { type CommandSpec, HASHSERVER_OPTION, SCOPE_OPTIONS, parseOrHelp } from "./args.ts";
import { writeStdout, writeStderr } from "./stdio.ts";
import { detailsOf, withRunLog } from "../lib/runlog/record.ts";
import { commandLog } from "./output.ts";

export const spec: CommandSpec = {
  name: "run-transformation",
  usage: "seamless run-transformation CHECKSUM|FILE.CHECKSUM [--output FILE] [--scratch] [--dunder FILE]",
  summary:
    "Load a transformation from the buffer store, run it (or answer from the result cache) and print\n" +
    "the result checksum. A job written by 'seamless run --dry -j DIR' is replayed with DIR/transformation.json.CHECKSUM.",
  positionals: "some",
  options: [
    { key: "output", names: ["--output"], kind: "value", metavar: "FILE", help: "write the result checksum to FILE instead of stdout" },
    { key: "scratch", names: ["--scratch"], kind: "flag", help: "do not store the result value" },
    { key: "dunder", names: ["--dunder"], kind: "value", metavar: "FILE", help: "JSON object of execution dunders (default: dunder.json next to FILE.CHECKSUM)" },
    HASHSERVER_OPTION,
    ...SCOPE_OPTIONS,
    { key: "directPrint", names: ["--direct-print"], kind: "flag", help: "accepted for compatibility" },
    { key: "fingertip", names: ["--fingertip"], kind: "flag", help: "accepted for compatibility" },
    { key: "strict", names: ["--strict"], kind: "flag", help: "accepted for compatibility" },
    { key: "verbose", names: ["--verbose"], kind: "flag", help: "print progress messages" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  return withInterrupt("seamless run-transformation", (signal) => runCommand(argv, signal));
}

async function runCommand(argv: string[], signal: AbortSignal): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError("expected one checksum or .CHECKSUM file");
  const argument = positionals[0]!;
  let checksum = tryParseChecksum(argument);
  let dunderPath = values.dunder as string | undefined;
  if (!checksum) {
    if (!argument.endsWith(".CHECKSUM") || !existsSync(argument)) {
      throw new UsageError(`"${argument}" is neither a checksum nor an existing .CHECKSUM file`);
    }
    checksum = readChecksumSidecar(argument);
    const sibling = join(dirname(argument), "dunder.json");
    if (dunderPath === undefined && existsSync(sibling)) dunderPath = sibling;
  }
  const config = configFromFlags(values);
  const log = commandLog("run-transformation", values.verbose ? 1 : 0);
  const store = await openBufferStoreFor(config, { log });
  const dict = await loadTransformationDict(store, checksum);
  if (dunderPath) {
    const dunder = JSON.parse(readFileSync(dunderPath, "utf8"));
    if (!dunder || typeof dunder !== "object" || Array.isArray(dunder)) throw new SeamlessError(`"${dunderPath}" must contain a JSON object`);
    Object.assign(dict, dunder);
  }
  const cacheDir = config.cacheDir;
  const cache = await openResultCacheFor(config, { log });
  const remote = await remoteExecutionOf(config, log.child({ verbosity: 1 })); // launching a jobserver is said at any verbosity
  try {
    const runLog = { cacheDir, command: `run-transformation ${checksum}`, source: "run-transformation", cwd: process.cwd(), tfChecksum: checksum, details: () => detailsOf(dict, () => undefined) } as const;
    const computed = await withRunLog(runLog, (onComputed) => remote.jobserver
      ? computeOnJobserver(dict, checksum, { jobserver: remote.jobserver, store, cache, scratch: values.scratch === true, record: remote.record === true, signal, log })
      : computeTransformation(dict, checksum, {
          onComputed,
          signal,
          store,
          cache,
          lockDir: lockDirOf(cacheDir),
          scratch: values.scratch === true,
          onStdoutLine: (line) => writeStderr(`${line}\n`),
          onStderr: values.verbose ? (chunk) => writeStderr(chunk) : undefined,
          log,
        }));
    if (values.output) writeFileAtomic(values.output as string, `${computed.checksum}\n`);
    else writeStdout(`${computed.checksum}\n`);
    return 0;
  } finally {
    cache.close();
    store.close();
  }
}
