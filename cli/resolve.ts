import { existsSync } from "node:fs";
import { tryParseChecksum } from "../lib/checksum/checksum.ts";
import { readChecksumSidecar } from "../lib/checksum/sidecar.ts";
import { openBufferStore } from "../lib/buffers/open-store.ts";
import { writeFileAtomic } from "../lib/buffers/atomic-write.ts";
import { NotFoundError, SeamlessError } from "../lib/errors.ts";
import { type CommandSpec, HASHSERVER_OPTION, formatHelp, parseCommandArgs } from "./args.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "resolve",
  usage: "seamless resolve CHECKSUM|FILE.CHECKSUM [--output FILE] [--hashserver URL]",
  summary:
    "Fetch the buffer of a checksum and print it as text, or write its raw bytes with --output.\n" +
    "A literal checksum is preferred over a file of the same name (services-spec §6.6).",
  positionals: "some",
  options: [
    { key: "output", names: ["-o", "--output"], kind: "value", metavar: "FILE", help: "write the raw bytes to FILE (atomically)" },
    HASHSERVER_OPTION,
    { key: "json", names: ["--json"], kind: "flag", help: 'JSON output: {"checksum", "length", "text"} (text null and "base64" set when not UTF-8)' },
    { key: "verbose", names: ["--verbose"], kind: "flag", help: "accepted for compatibility" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandArgs(spec, argv);
  if (help || positionals.length !== 1) {
    writeStdout(formatHelp(spec));
    return help ? 0 : 2;
  }
  const argument = positionals[0]!;
  const checksum = tryParseChecksum(argument) ?? (existsSync(argument) ? readChecksumSidecar(argument) : null);
  if (!checksum) throw new SeamlessError(`Invalid checksum "${argument}": not a checksum and not an existing .CHECKSUM file`);
  const store = await openBufferStore({ hashserverUrl: values.hashserver as string | undefined });
  const buffer = await store.get(checksum);
  if (!buffer) throw new NotFoundError(`Cannot resolve buffer "${checksum}": not found in ${store.location}`);
  if (values.output) {
    writeFileAtomic(values.output as string, buffer);
    return 0;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buffer);
  } catch {
    if (values.json) {
      writeStdout(`${JSON.stringify({ checksum, length: buffer.byteLength, text: null, base64: Buffer.from(buffer).toString("base64") })}\n`);
      return 0;
    }
    throw new SeamlessError(`Buffer "${checksum}" is not UTF-8 text; use --output FILE to save its bytes`);
  }
  if (values.json) writeStdout(`${JSON.stringify({ checksum, length: buffer.byteLength, text })}\n`);
  else writeStdout(`${text.replace(/\n+$/, "")}\n`);
  return 0;
}
