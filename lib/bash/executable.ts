/**
 * Executable resolution (cli-spec §3.6): `which` the first word of a command; system tools
 * (in a `bin`, `sbin` or `usr` directory) are not mapped, anything else is.
 * @module
 */
import { accessSync, constants, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";

/** Commands that never get `chmod +x`, as in seamless-run. */
const SKIP_MAKE_EXECUTABLE = new Set(["cd", "echo", "eval", "exec", "export", "set", "source"]);

/**
 * Bash builtins and keywords. QUIRK (cli-spec §11.7): seamless-run emits `chmod +x 'read'` for
 * these, which fails under `set -e`; such a transformation can never succeed in Python, so
 * skipping them costs no shared cache entry.
 */
const SHELL_BUILTINS = new Set([
  ".", ":", "alias", "bg", "bind", "break", "builtin", "caller", "command", "compgen", "complete", "compopt", "continue",
  "declare", "dirs", "disown", "enable", "exit", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "let", "local",
  "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "shift", "shopt",
  "suspend", "test", "times", "trap", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait", "[", "[[",
  "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "function", "select", "time", "!", "{", "}",
]);

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `which WORD` as /bin/sh runs it: a path with `/` is checked as given, else PATH is searched. */
export function which(word: string, path = process.env.PATH ?? ""): string | null {
  if (word === "") return null;
  if (word.includes("/")) return isExecutableFile(word) ? word : null;
  for (const dir of path.split(":")) {
    const candidate = join(dir || ".", word);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** Python `Path(word)` normalisation of the first word: `./x.sh` → `x.sh`. */
function normalizeWord(word: string): string {
  const parts = word.split("/").filter((p, i) => p !== "." && !(p === "" && i > 0));
  return parts.join("/") || ".";
}

/**
 * Resolves a command's first word.
 *
 * QUIRK fixed (cli-spec §3.6): Python maps any executable found outside a `bin`/`sbin`/`usr`
 * directory, e.g. pyenv's `~/.pyenv/shims/python3`; literal file mapping then refuses it as
 * "not under the current working directory", and in a later command it gets `chmod +x`.
 * Here an executable outside `workdir` is a system tool like any other. Executables inside the
 * working directory are mapped exactly as Python maps them.
 *
 * @param workdir the resolved working directory (absolute)
 * @returns the mapped executable, or null when it is a system tool (no mapping)
 */
export function resolveExecutable(word: string, workdir: string): string | null {
  if (normalizeWord(word) === "conda") return word;
  const found = which(word);
  if (found === null) return word;
  const slash = found.lastIndexOf("/");
  const dir = slash < 0 ? "" : found.slice(0, slash);
  if (dir.endsWith("/bin") || dir.endsWith("/sbin") || dir.endsWith("/usr")) return null;
  if (isAbsolute(found) && !found.startsWith(workdir === "/" ? "/" : `${workdir}/`)) return null;
  return found;
}

/** Whether a mapped first word gets `chmod +x`. */
export function needsMakeExecutable(word: string, functionNames: Set<string>): boolean {
  return !SKIP_MAKE_EXECUTABLE.has(word) && !SHELL_BUILTINS.has(word) && !functionNames.has(word);
}
