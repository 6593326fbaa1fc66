/**
 * File mapping (cli-spec §3.8): turns file and directory arguments into pin names.
 * @module
 */
import { isAbsolute, posix } from "node:path";
import { realpathSync } from "node:fs";
import { compressionSuffixOf, stripCompressionSuffix } from "../checksum/compression.ts";
import { SeamlessError } from "../errors.ts";
import { pathSuffix, type ArgumentType } from "./arguments.ts";

export type MappingMode = "literal" | "strip" | "extension";

/** A pin: a file or directory input of the transformation. */
export interface Pin {
  type: "file" | "directory";
  /** Absolute path on disk. */
  mapping: string;
  checksum?: string;
}

/** Python `Path(p).absolute()`: joined to cwd, `..` kept, `.` and `//` removed. */
function absolutePath(path: string, cwd: string): string {
  const joined = isAbsolute(path) ? path : `${cwd}/${path}`;
  const parts = joined.split("/").filter((p) => p !== "" && p !== ".");
  return `/${parts.join("/")}`;
}

/**
 * Maps typed arguments to pins.
 *
 * @param args arguments with their types, in order (values included, they pass through)
 * @param workdir the working directory whose path is stripped to form pin names (`-w`, default cwd)
 * @param mode literal, strip (-ms) or extension (-mx)
 * @param rootMode `-W`: the working directory is `/`
 * @param cwd where relative arguments are (default: this process's cwd)
 * @returns pin name per argument (null for values) and the pins
 */
export function mapFiles(args: { arg: string; typed: ArgumentType }[], workdir: string, mode: MappingMode, rootMode: boolean, cwd = process.cwd()): { names: (string | null)[]; pins: Map<string, Pin> } {
  const cwdResolved = rootMode ? "/" : realpathSync(workdir);
  const pins = new Map<string, Pin>();
  const names: (string | null)[] = [];
  let fileCounter = 0;
  for (const { arg, typed } of args) {
    if (typed.type === "value") {
      names.push(null);
      continue;
    }
    // cli-spec §3.8: `Path(arg).absolute()` is against the process cwd, never the -w directory.
    const full = absolutePath(typed.mapping ?? arg, cwd);
    let name: string;
    const literal = () => {
      const prefix = cwdResolved === "/" ? "/" : `${cwdResolved}/`;
      if (!full.startsWith(prefix)) {
        throw new SeamlessError(
          `Argument '${arg}' is not under the current working directory. This is required under 'literal' file mapping.\n` +
            "Use -ms (strip) or -mx (extension) file mapping, or -W to map relative to /.",
        );
      }
      return posix.normalize(full.slice(prefix.length));
    };
    if (mode === "literal") {
      name = literal();
    } else if (mode === "extension" && typed.type === "directory") {
      // -mx keeps a directory's own text, but it must still lie under the working directory.
      literal();
      name = arg.replace(/\/+$/, "");
    } else if (mode === "strip") {
      name = full.split("/").filter(Boolean).pop() ?? full;
    } else {
      fileCounter++;
      const suffix = compressionSuffixOf(arg) ?? "";
      name = `file${fileCounter}${pathSuffix(stripCompressionSuffix(arg))}${suffix}`;
    }
    const existing = pins.get(name);
    if (existing && existing.mapping !== full) {
      throw new SeamlessError(`Two different mappings for argument "${name}": ${existing.mapping} and ${full}`);
    }
    const pin: Pin = { type: typed.type, mapping: full };
    if (typed.checksum) pin.checksum = typed.checksum;
    pins.set(name, pin);
    names.push(name);
  }
  return { names, pins };
}

