/**
 * The generated bash code of a transformation (`prepare_bash_code`, cli-spec §3.13).
 * @module
 */
import { normalizeText } from "../serialize/celltypes.ts";

/** Result targets: server name → local name (null: the same). */
export type ResultTargets = [server: string, local: string | null][];

/** Python `os.path.join("RESULT", os.path.dirname(target))`. */
function resultDirOf(target: string): string {
  const slash = target.lastIndexOf("/");
  return slash < 0 ? "RESULT/" : `RESULT/${target.slice(0, slash)}`;
}

/** Inputs of {@link generateBashCode}. */
export interface BashCodeInput {
  command: string;
  makeExecutables: string[];
  metavarNames: string[];
  /** null: stdout capture (`(...) > RESULT`). */
  resultTargets: ResultTargets | null;
  captureStdout: boolean;
}

/**
 * Builds the code text, text-normalized (one trailing newline).
 *
 * @example
 * ```ts
 * generateBashCode({ command: "echo hello", makeExecutables: [], metavarNames: [], resultTargets: null, captureStdout: true });
 * // "(\necho hello\n) > RESULT\n"
 * ```
 */
export function generateBashCode(input: BashCodeInput): string {
  let code = "";
  if (input.makeExecutables.length > 0) {
    if (input.makeExecutables.some((e) => !e.includes("/"))) code += "export PATH=./:$PATH\n";
    code += `chmod +x ${input.makeExecutables.map((e) => `'${e}'`).join(" ")}\n`;
  }
  for (const name of [...input.metavarNames].sort()) code += `export ${name}="\${META__${name}}"\n`;
  if (input.resultTargets === null) {
    code += `(\n${input.command}\n) > RESULT`;
  } else {
    const dirs: string[] = [];
    for (const [server] of input.resultTargets) {
      const dir = resultDirOf(server);
      if (!dirs.includes(dir)) dirs.push(dir);
    }
    code += `mkdir -p ${dirs.join(" ")}\n`;
    code += input.captureStdout ? `(\n${input.command}\n) > STDOUT` : input.command;
    code += "\n";
    for (const [server] of input.resultTargets) code += `mv ${server} ${resultDirOf(server)}\n`;
  }
  return normalizeText(code);
}
