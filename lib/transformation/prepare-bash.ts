/**
 * From a command line to a bash transformation (cli-spec §3.2 steps 3–15): parse, resolve the
 * executable, type arguments, map files, substitute words, find result targets, checksum the
 * inputs and build the code and the transformation dict.
 * @module
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import { staleSidecarError } from "../checksum/stale-sidecar.ts";
import { dirname, isAbsolute, join, posix, relative, resolve } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { checksumFile, indexDirectory } from "../checksum/file-checksum.ts";
import type { StatCache } from "../checksum/stat-cache.ts";
import { SeamlessError, UsageError } from "../errors.ts";
import { serializeValue } from "../serialize/celltypes.ts";
import type { BufferSource } from "../buffers/transfer.ts";
import type { CommandLine, BashRedirect } from "../bash/command-line.ts";
import { expandUser, typeArgument, type ArgumentType, type TypingContext } from "../bash/arguments.ts";
import { mapFiles, type MappingMode, type Pin } from "../bash/file-mapping.ts";
import { needsMakeExecutable, resolveExecutable } from "../bash/executable.ts";
import { generateBashCode, type ResultTargets } from "./bash-code.ts";
import { transformationBufferOf, type TransformationDict } from "./dict.ts";
import { environmentOf, type EnvironmentRequest } from "./environment.ts";
import type { PlainValue } from "../serialize/plain-json.ts";

/** What the user asked for (the flags of cli-spec §3.1 that shape the transformation). */
export interface BashRunRequest {
  command: string;
  workdir: string;
  /**
   * Where the command line was typed: arguments are found there (default: this process's cwd).
   * The queue daemon prepares a job submitted from another directory.
   */
  cwd?: string;
  rootMode: boolean;
  rules: { rule1: boolean; rule2: boolean };
  mappingMode: MappingMode;
  primary: number;
  inputs: string[];
  inputFiles: string[];
  metafiles: string[];
  vars: [string, string][];
  metavars: [string, string][];
  prologues: string[];
  captures: string[];
  directPrint: boolean;
  /** `--docker` / `--conda`: recorded in `__env__`, outside the identity. */
  environment?: EnvironmentRequest;
}

/** A prepared transformation. */
export interface PreparedBash {
  dict: TransformationDict;
  tfChecksum: Checksum;
  tfBuffer: Uint8Array;
  code: string;
  codeBuffer: Uint8Array;
  /** null: stdout capture. */
  resultTargets: ResultTargets | null;
  captureStdout: boolean;
  /** Every buffer the transformation refers to, by checksum. */
  buffers: Map<Checksum, BufferSource>;
  /** Checksums of the file/directory input buffers (for the "Upload N files" count). */
  inputChecksums: Checksum[];
  pins: Map<string, Pin>;
  argTypes: Record<string, unknown>;
  /** The `__env__` buffer (`env.json` of a job directory), when `--docker`/`--conda` was given. */
  envBuffer: Uint8Array | null;
}

const RESERVED_PINS = new Set(["bashcode", "pins_"]);
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `NAME=VALUE` flags (cli-spec §3.1 item 7). */
export function parseVariables(items: string[], flag: "--var" | "--metavar"): [string, string][] {
  const seen = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag} "${item}": expected NAME=VALUE`);
    const name = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (!VAR_NAME.test(name)) throw new UsageError(`${flag} "${item}": invalid variable name "${name}"`);
    if (flag === "--metavar" && name.toUpperCase().startsWith("META__")) throw new UsageError(`--metavar "${name}": names may not start with META__`);
    const previous = seen.get(name);
    if (previous !== undefined && previous !== value) throw new UsageError(`${flag} ${name} given twice with different values`);
    seen.set(name, value);
  }
  return [...seen.entries()];
}

/** Redirects into devices (`> /dev/null`) discard or pass on output: they are not result targets. */
const DEVICE_PREFIX = "/dev/";
/** `$PWD` is the working directory when the command runs, so `> $PWD/x` means `> x`. */
const PWD_PREFIXES = ["$PWD/", "${PWD}/"];

/** A result target taken from a redirect. */
export interface RedirectTarget {
  /** Relative to the working directory. */
  target: string;
  /** Set when the command must say `target` instead of what it said (an absolute or `$PWD` path made relative). */
  rewrite: { start: number; end: number; text: string } | null;
}

function quoteIfNeeded(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The result target of an output redirect, relative to the working directory (cli-spec §3.11).
 * QUIRK fixed: Python removes the workdir string but keeps the leading "/" (`mv /x.txt /`, the
 * result is lost); here an absolute path inside the working directory, or `$PWD/x`, becomes
 * relative, and the command is rewritten to write there. A target outside the working
 * directory (absolute elsewhere, or climbing out with `..`) is refused before anything runs:
 * Python would move the user's file into the result and lose it.
 *
 * @param workdir the workdir string: the absolute cwd, or the `-w` value as given
 * @returns null for device redirects (`> /dev/null`) and redirects without a word
 * @throws {SeamlessError} for a target outside the working directory
 */
export function redirectTarget(redirect: BashRedirect, workdir: string): RedirectTarget | null {
  if (redirect.target === null) return null;
  const expanded = expandUser(redirect.target);
  if (expanded.startsWith(DEVICE_PREFIX)) return null;
  const prefixes = [...PWD_PREFIXES, workdir.endsWith("/") ? workdir : `${workdir}/`];
  if (!isAbsolute(workdir)) prefixes.push(`${resolve(workdir)}/`);
  let target = expanded;
  const prefix = prefixes.find((p) => expanded.startsWith(p) && expanded.length > p.length);
  if (prefix) target = expanded.slice(prefix.length);
  const normalized = posix.normalize(target);
  if (isAbsolute(target) || normalized === ".." || normalized.startsWith("../")) {
    throw new SeamlessError(`Result target "${redirect.target}" is outside the working directory: results can only be written inside it`, {
      hint: "redirect into the working directory (or a directory under it), then copy the file where it must go",
    });
  }
  const changed = target !== redirect.target;
  const rewrite = changed && redirect.targetStart !== undefined && redirect.targetEnd !== undefined
    ? { start: redirect.targetStart, end: redirect.targetEnd, text: quoteIfNeeded(target) }
    : null;
  return { target, rewrite };
}

/**
 * Finds the output redirection (cli-spec §3.11): the redirects of a compound at the top
 * (`( … ) > out`), else those of the last command. QUIRKs fixed: input redirects (`<`, `<<`,
 * `<<<`) are not output targets, and fd duplications (`2>&1`, `>&2`) are ignored instead of
 * crashing.
 *
 * @param workdir the workdir string: the absolute cwd, or the `-w` value as given
 * @throws {SeamlessError} for two definite targets, or a target outside the working directory
 */
export function findRedirection(line: CommandLine, workdir: string): { target: RedirectTarget | null; inputs: string[] } {
  const inputs: string[] = [];
  const classify = (redirects: BashRedirect[]): RedirectTarget | null => {
    let definite: RedirectTarget | null = null;
    let maybe: RedirectTarget | null = null;
    for (const redirect of redirects) {
      if (redirect.op.startsWith("<") && redirect.op !== "<>") {
        if (redirect.op === "<" && redirect.target) inputs.push(redirect.target);
        continue;
      }
      if (redirect.op === ">&" || redirect.op === "<&" || redirect.op === ">&-") continue;
      if (redirect.target?.startsWith("<")) continue;
      if (redirect.fd === 2) continue;
      const target = redirectTarget(redirect, workdir);
      if (target === null) continue;
      if (redirect.fd !== null && redirect.fd !== 1) {
        maybe = target; // bashlex keeps the last "maybe" one
        continue;
      }
      if (definite !== null) throw new SeamlessError("Multiple redirects in the last command");
      definite = target;
    }
    return definite ?? maybe;
  };
  const fromCompound = line.compoundRedirects.length > 0 ? classify(line.compoundRedirects) : null;
  if (fromCompound) return { target: fromCompound, inputs };
  return { target: classify(line.commands[line.commands.length - 1]?.redirects ?? []), inputs };
}

/** Parses `-cp` specs: `F`, `F:G`, `:G` (stdout into G). */
export function parseCaptures(specs: string[]): ResultTargets {
  return specs.map((spec) => {
    const colon = spec.indexOf(":");
    if (colon < 0) return [spec, null];
    const server = spec.slice(0, colon) || "STDOUT";
    return [server, spec.slice(colon + 1) || null];
  });
}

/**
 * Prepares the transformation.
 *
 * @param request the flags
 * @param line the parsed command line
 * @param statCache stat cache for input hashing
 * @param waitForFuture called for arguments with a live `.FUTURE`
 * @throws {SeamlessError} with the messages of cli-spec §3.7–§3.11
 */
export async function prepareBashTransformation(
  request: BashRunRequest, line: CommandLine, statCache: StatCache | null, waitForFuture: (path: string) => Promise<void>,
): Promise<PreparedBash> {
  const { commands } = line;
  if (commands.length === 0) throw new SeamlessError("No command found in the command line");
  if (!Number.isInteger(request.primary) || request.primary < 1 || request.primary > commands.length) {
    // QUIRK (cli-spec §3.5): Python crashes or takes the last command; we say what is wrong.
    throw new UsageError(`--primary ${request.primary} but only ${commands.length} command(s) found`);
  }
  const primaryIndex = request.primary - 1;
  const primary = commands[primaryIndex]!;
  // cli-spec §3.8: -w/-W only set the prefix stripped from pin names (and result targets);
  // arguments are typed, found and read relative to the process's own cwd.
  const workdir = request.rootMode ? "/" : request.workdir;
  const context: TypingContext = { workdir: request.cwd ?? ".", statCache, waitForFuture };

  // Executable resolution (cli-spec §3.6).
  const substitutions: { start: number; end: number; text: string }[] = [];
  const makeExecutables: string[] = [];
  const functionNames = new Set(line.functionNames);
  const primaryWords = primary.words.map((w) => w.text);
  const workdirResolved = request.rootMode ? "/" : realpathSync(workdir);
  const primaryMapped = primaryWords.length ? resolveExecutable(primaryWords[0]!, workdirResolved) : null;
  if (primaryMapped !== null && primaryWords.length) primaryWords[0] = primaryMapped;

  // Argument typing of the primary pipeline (cli-spec §3.7).
  const others = primary.pipeline.filter((i) => i !== primaryIndex).map((i) => commands[i]!);
  const originalWords = [...primary.words.map((w) => w.text), ...others.flatMap((c) => c.words.map((w) => w.text))];
  const analysed = [...primaryWords, ...others.flatMap((c) => c.words.map((w) => w.text))];
  const typed: { arg: string; typed: ArgumentType }[] = [];
  for (let i = 0; i < analysed.length; i++) typed.push({ arg: analysed[i]!, typed: await typeArgument(analysed[i]!, i + 1, request.rules, context) });

  // Extra inputs (-i, -I, input redirects) and metafiles: rules 1 and 2 off, must exist.
  // With -W, results still land in the working directory (not under /), so targets are judged against it.
  const redirection = findRedirection(line, request.workdir);
  const extraInputs = [...request.inputs, ...redirection.inputs];
  for (const listFile of request.inputFiles) {
    const text = readFileSync(listFile, "utf8");
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    // QUIRK (cli-spec §3.7 item 8): Python turns blank lines into the list's directory; we skip them.
    for (const raw of lines.map((l) => l.trim()).filter((l) => l !== "")) extraInputs.push(isAbsolute(raw) ? raw : join(dirname(listFile), raw));
  }
  const noRules = { rule1: false, rule2: false };
  const inputTyped: { arg: string; typed: ArgumentType }[] = [];
  for (const input of extraInputs) {
    const t = await typeArgument(input, 1, noRules, context);
    if (t.type === "value") throw new SeamlessError(`input argument '${input}': file/directory does not exist`);
    inputTyped.push({ arg: input, typed: t });
  }
  const metaTyped: { arg: string; typed: ArgumentType }[] = [];
  for (const metafile of request.metafiles) {
    const t = await typeArgument(metafile, 1, noRules, context);
    if (t.type !== "file") throw new SeamlessError(`--metafile argument '${metafile}': file does not exist`);
    metaTyped.push({ arg: metafile, typed: t });
  }

  // File mapping (cli-spec §3.8).
  const mapped = mapFiles([...typed, ...inputTyped], workdir, request.mappingMode, request.rootMode, request.cwd);
  const metaMapped = mapFiles(metaTyped, workdir, request.mappingMode, request.rootMode, request.cwd);
  for (const name of mapped.pins.keys()) if (RESERVED_PINS.has(name)) throw new SeamlessError(`Pin name '${name}' is reserved`);

  // Word substitution (cli-spec §3.9). QUIRK fixed: Python matches word N of the primary
  // pipeline against word N of the whole command list, so `--primary 2` rewrites the wrong
  // command; each analysed word is substituted at its own span here.
  const analysedNodes = [...primary.words, ...others.flatMap((c) => c.words)];
  for (let i = 0; i < analysed.length; i++) {
    const mappedWord = mapped.names[i] ?? analysed[i]!;
    if (mappedWord !== originalWords[i]) substitutions.push({ start: analysedNodes[i]!.start, end: analysedNodes[i]!.end, text: mappedWord });
  }
  commands.forEach((command, index) => {
    const first = command.words[0];
    if (!first) return;
    if (index === primaryIndex) {
      if (primaryMapped === null) return;
      const substituted = mapped.names[0] ?? primaryMapped;
      if (needsMakeExecutable(substituted, functionNames)) makeExecutables.push(substituted);
      return;
    }
    const mappedExe = resolveExecutable(first.text, workdirResolved);
    if (mappedExe === null) return;
    const positionInAnalysed = analysedNodes.indexOf(first);
    const substituted = positionInAnalysed >= 0 && positionInAnalysed < analysed.length ? (mapped.names[positionInAnalysed] ?? mappedExe) : mappedExe;
    if (substituted !== first.text && !substitutions.some((s) => s.start === first.start)) {
      substitutions.push({ start: first.start, end: first.end, text: substituted });
    }
    if (needsMakeExecutable(substituted, functionNames)) makeExecutables.push(substituted);
  });
  if (redirection.target?.rewrite) substitutions.push(redirection.target.rewrite);
  let command = request.command;
  const seenStarts = new Set<number>();
  for (const s of substitutions.sort((a, b) => b.start - a.start)) {
    if (seenStarts.has(s.start)) continue;
    seenStarts.add(s.start);
    command = command.slice(0, s.start) + s.text + command.slice(s.end);
  }

  // Result targets (cli-spec §3.11).
  const captures = parseCaptures(request.captures);
  let resultTargets: ResultTargets | null = null;
  if (captures.length > 0 || redirection.target !== null) {
    resultTargets = [...captures];
    if (redirection.target !== null) resultTargets.push([redirection.target.target, null]);
  }
  for (const [server] of resultTargets ?? []) refuseOutsideTarget(server, workdir);
  const captureStdout = resultTargets === null || resultTargets.some(([server]) => server === "STDOUT");

  // Checksums of the inputs (cli-spec §3.12).
  const buffers = new Map<Checksum, BufferSource>();
  const inputChecksums: Checksum[] = [];
  const pinEntries: [string, PlainValue][] = [];
  const formatEntries: [string, PlainValue][] = [];
  const argTypes: Record<string, unknown> = {};
  for (const [name, pin] of mapped.pins) {
    let checksum = pin.checksum;
    // A sidecar argument whose file or directory is also on disk: that must match (a stale
    // sidecar is an error), and it is the source to store when the buffer is not in the store.
    const onDisk = checksum ? sidecarNeighbour(pin) : null;
    if (pin.type === "file") {
      if (!checksum || onDisk === "file") {
        const { checksum: c, length } = checksumFile(pin.mapping, statCache); // a stat-cache hit: typing hashed it already
        if (checksum && c !== checksum) throw staleSidecarError(shownPath(pin.mapping), "file", `${shownPath(pin.mapping)}.CHECKSUM`, checksum, c, `Argument '${shownPath(pin.mapping)}' exists as file and .CHECKSUM file, but the checksums are not the same`);
        checksum = c;
        if (!buffers.has(c)) buffers.set(c, { checksum: c, length, path: pin.mapping });
      }
      pinEntries.push([name, ["bytes", null, checksum]]);
      formatEntries.push([name, { filesystem: { optional: true, mode: "file" } }]);
    } else {
      if (!checksum || onDisk === "directory") {
        const indexed = indexDirectory(pin.mapping, statCache);
        if (checksum && indexed.checksum !== checksum) {
          throw staleSidecarError(shownPath(pin.mapping), "directory", `${shownPath(pin.mapping)}.CHECKSUM`, checksum, indexed.checksum, `Argument '${shownPath(pin.mapping)}' exists as directory and .CHECKSUM file, but the checksums are not the same`);
        }
        checksum = indexed.checksum;
        for (const file of indexed.files) if (!buffers.has(file.checksum)) buffers.set(file.checksum, { checksum: file.checksum, length: file.length, path: file.path });
        if (!buffers.has(checksum)) buffers.set(checksum, { checksum, length: indexed.indexBuffer.byteLength, bytes: indexed.indexBuffer });
      }
      pinEntries.push([name, ["mixed", null, checksum]]);
      formatEntries.push([name, { filesystem: { optional: true, mode: "directory" }, celltype: "deepfolder" }]);
    }
    pin.checksum = checksum;
    inputChecksums.push(checksum);
    argTypes[name] = { type: pin.type, checksum };
  }
  const metaEntries: [string, PlainValue][] = [];
  for (const [name, pin] of metaMapped.pins) {
    const { checksum, length } = pin.checksum ? { checksum: pin.checksum, length: -1 } : checksumFile(pin.mapping, statCache);
    if (!pin.checksum && !buffers.has(checksum)) buffers.set(checksum, { checksum, length, path: pin.mapping });
    metaEntries.push([`META__FILE__${name}`, ["bytes", null, checksum]]);
  }

  // Code and dict (cli-spec §3.13, §2.1).
  if (request.prologues.length > 0) command = `${request.prologues.join("; ")}; ${command}`;
  const code = generateBashCode({ command, makeExecutables, metavarNames: request.metavars.map(([n]) => n), resultTargets, captureStdout });
  const codeBuffer = serializeValue(code, "text");
  const codeChecksum = computeChecksum(codeBuffer);
  buffers.set(codeChecksum, { checksum: codeChecksum, length: codeBuffer.byteLength, bytes: codeBuffer });

  const dict: TransformationDict = {};
  dict.__language__ = "bash";
  dict.__output__ = ["result", resultTargets === null ? "bytes" : "deepfolder", null];
  if (request.directPrint) dict.__meta__ = { __direct_print__: true };
  const environment = environmentOf(request.environment ?? {});
  if (environment) {
    dict.__env__ = environment.checksum;
    buffers.set(environment.checksum, { checksum: environment.checksum, length: environment.buffer.byteLength, bytes: environment.buffer });
  }
  for (const [name, value] of pinEntries) dict[name] = value;
  if (formatEntries.length > 0) dict.__format__ = Object.fromEntries(formatEntries) as PlainValue;
  for (const [name, value] of metaEntries) dict[name] = value;
  dict.code = ["text", null, codeChecksum];
  const addStr = (key: string, value: string) => {
    const buffer = serializeValue(value, "str");
    const checksum = computeChecksum(buffer);
    buffers.set(checksum, { checksum, length: buffer.byteLength, bytes: buffer });
    dict[key] = ["str", null, checksum];
  };
  for (const [name, value] of request.vars) {
    if (RESERVED_PINS.has(name)) throw new SeamlessError(`Pin name '${name}' is reserved`);
    addStr(name, value);
  }
  for (const [name, value] of request.metavars) addStr(`META__${name}`, value);

  const { buffer: tfBuffer, checksum: tfChecksum } = transformationBufferOf(dict);
  buffers.set(tfChecksum, { checksum: tfChecksum, length: tfBuffer.byteLength, bytes: tfBuffer });
  return {
    dict, tfChecksum, tfBuffer, code, codeBuffer, resultTargets, captureStdout, buffers, inputChecksums, pins: mapped.pins, argTypes,
    envBuffer: environment?.buffer ?? null,
  };
}

/** What lies on disk at a sidecar pin's own path, when that is of the pin's kind. */
function sidecarNeighbour(pin: Pin): "file" | "directory" | null {
  try {
    const stats = statSync(pin.mapping);
    const kind = stats.isDirectory() ? "directory" : stats.isFile() ? "file" : null;
    return kind === pin.type ? kind : null;
  } catch {
    return null;
  }
}

/** A path as the user would write it: relative to the current directory when under it. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/**
 * Refuses, before anything runs, a result target that the workspace cannot hold: the command
 * runs in a temporary workspace and its target is moved into `RESULT/<target>`, which an
 * absolute path or a `..` escape cannot be (it failed later as a temp-file ENOENT, or as
 * "Result folder RESULT is empty"; QUIRK: Python emits `mv /x.txt /`, cli-spec §3.11).
 */
function refuseOutsideTarget(target: string, workdir: string): void {
  if (target === "STDOUT") return;
  const normal = posix.normalize(target);
  if (!isAbsolute(target) && normal !== ".." && !normal.startsWith("../")) return;
  const inside = isAbsolute(target) ? relative(isAbsolute(workdir) ? workdir : join(process.cwd(), workdir), target) : "..";
  if (inside !== "" && !inside.startsWith("..") && !isAbsolute(inside)) {
    throw new SeamlessError(`Result target "${target}" is an absolute path: a result is written relative to the working directory`, { hint: `write it as "${inside}"` });
  }
  throw new SeamlessError(`Result target "${target}" is outside the working directory: results can only be written inside it`, {
    hint: "write the result inside the working directory (or choose it with -w) and move it afterwards",
  });
}
