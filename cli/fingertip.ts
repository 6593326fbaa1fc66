import { configFromFlags } from "./configure.ts";
import { openBufferStoreFor, openResultCacheFor } from "../lib/delegation/mod.ts";
import { fingertipBuffer, lockDirOf } from "../lib/execute/mod.ts";
import { type CommandSpec, HASHSERVER_OPTION, SCOPE_OPTIONS } from "./args.ts";
import { parseChecksumCommand, writeBufferOut } from "./resolve.ts";
import { commandLog } from "./output.ts";

export const spec: CommandSpec = {
  name: "fingertip",
  usage: "seamless fingertip CHECKSUM|FILE.CHECKSUM [--output FILE] [--project P[:SUB]] [--stage S[:SUB]]",
  summary:
    "As 'seamless resolve', but a buffer missing everywhere is recomputed: a transformation that\n" +
    "produced it is found in the result cache (rev_transformations), its missing inputs are\n" +
    "recomputed the same way, it runs locally, and the result is verified (services-spec §6.6).",
  positionals: "some",
  options: [
    { key: "output", names: ["-o", "--output"], kind: "value", metavar: "FILE", help: "write the raw bytes to FILE (atomically)" },
    HASHSERVER_OPTION,
    ...SCOPE_OPTIONS,
    { key: "verbose", names: ["--verbose"], kind: "flag", help: "say what is recomputed" },
  ],
  epilog: "Exit codes: 0 ok, 1 not found and not recomputable (or another error), 2 usage.",
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseChecksumCommand(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, checksum } = parsed;
  const config = configFromFlags(values);
  const log = commandLog("fingertip", values.verbose ? 1 : 0);
  const store = await openBufferStoreFor(config, { log });
  const cache = await openResultCacheFor(config, { log });
  try {
    const buffer = await fingertipBuffer(checksum, { store, cache, lockDir: lockDirOf(config.cacheDir), log });
    writeBufferOut(buffer, checksum, values.output as string | undefined);
    return 0;
  } finally {
    cache.close();
    store.close();
  }
}
