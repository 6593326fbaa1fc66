import { existsSync } from "node:fs";
import { tryParseChecksum } from "../lib/checksum/checksum.ts";
import { readChecksumSidecar } from "../lib/checksum/sidecar.ts";
import { openBufferStoreFor } from "../lib/delegation/mod.ts";
import { configFromFlags } from "./configure.ts";
import { writeFileAtomic } from "../lib/disk/atomic-write.ts";
import { NotFoundError, SeamlessError, UsageError } from "../lib/errors.ts";
import { type CommandSpec, HASHSERVER_OPTION, SCOPE_OPTIONS, formatHelp, missingArgumentsError, parseCommandArgs } from "./args.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "resolve",
  usage: "seamless resolve CHECKSUM|FILE.CHECKSUM [--output FILE] [--hashserver URL] [--project P[:SUB]] [--stage S[:SUB]]",
  summary:
    "Fetch the buffer of a checksum and print it as text, or write its raw bytes with --output.\n" +
    "A literal checksum is preferred over a file of the same name (services-spec §6.6).",
  positionals: "some",
  options: [
    { key: "output", names: ["-o", "--output"], kind: "value", metavar: "FILE", help: "write the raw bytes to FILE (atomically)" },
    HASHSERVER_OPTION,
    ...SCOPE_OPTIONS,
    { key: "json", names: ["--json"], kind: "flag", help: 'JSON output: {"checksum", "length", "text"} (text null and "base64" set when not UTF-8)' },
    { key: "verbose", names: ["--verbose"], kind: "flag", help: "accepted for compatibility" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseChecksumCommand(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, checksum } = parsed;
  const store = await openBufferStoreFor(configFromFlags(values));
  const buffer = await store.get(checksum);
  if (!buffer) throw new NotFoundError(`Cannot resolve buffer "${checksum}": not found in ${store.location}`);
  writeBufferOut(buffer, checksum, values.output as string | undefined, values.json === true);
  return 0;
}

/**
 * Parses a command that takes one CHECKSUM|FILE argument (resolve, fingertip, cancel): `--help`
 * prints the help (exit 0).
 *
 * @returns the flag values and the checksum, or the exit code when help was printed
 * @throws {UsageError} for bad flags and a wrong argument count
 */
export function parseChecksumCommand(command: CommandSpec, argv: string[]): { values: Record<string, unknown>; checksum: string } | number {
  const { values, positionals, help } = parseCommandArgs(command, argv);
  if (help) {
    writeStdout(formatHelp(command));
    return 0;
  }
  if (positionals.length === 0) throw missingArgumentsError(command);
  if (positionals.length > 1) throw new UsageError(`expected one argument, not ${positionals.length} (usage: ${command.usage})`);
  return { values, checksum: checksumOfArgument(positionals[0]!) };
}

/**
 * A literal checksum, else the checksum in the named .CHECKSUM file (services-spec §6.6).
 *
 * @throws {SeamlessError} when it is neither
 */
export function checksumOfArgument(argument: string): string {
  const checksum = tryParseChecksum(argument) ?? (existsSync(argument) ? readChecksumSidecar(argument) : null);
  if (!checksum) throw new SeamlessError(`Invalid checksum "${argument}": not a checksum and not an existing .CHECKSUM file`);
  return checksum;
}

/**
 * Writes the raw bytes to `output` (atomically), or prints them as text with one final newline,
 * or as a JSON object (`{"checksum", "length", "text"}`; `text` null and `base64` set when the
 * bytes are not UTF-8).
 */
export function writeBufferOut(buffer: Uint8Array, checksum: string, output: string | undefined, json = false): void {
  if (output) {
    writeFileAtomic(output, buffer);
    return;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buffer);
  } catch {
    if (json) {
      writeStdout(`${JSON.stringify({ checksum, length: buffer.byteLength, text: null, base64: Buffer.from(buffer).toString("base64") })}\n`);
      return;
    }
    throw new SeamlessError(`Buffer "${checksum}" is not UTF-8 text; use --output FILE to save its bytes`);
  }
  if (json) writeStdout(`${JSON.stringify({ checksum, length: buffer.byteLength, text })}\n`);
  else writeStdout(`${text.replace(/\n+$/, "")}\n`);
}
