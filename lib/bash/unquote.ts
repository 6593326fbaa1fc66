/**
 * Quote removal for one shell word, as bashlex reports `word.word` (cli-spec §3.5): quotes and
 * backslash escapes go, while `$(...)`, `${...}` and backquote spans are kept verbatim.
 * @module
 */

/** Length of a `$(`/`${`/`$((`/backquote span starting at `i`, honouring nesting and quotes. */
function spanLength(text: string, i: number): number {
  if (text[i] === "`") {
    let j = i + 1;
    while (j < text.length && text[j] !== "`") j += text[j] === "\\" ? 2 : 1;
    return Math.min(j + 1, text.length) - i;
  }
  const open = text[i + 1]!;
  const close = open === "(" ? ")" : "}";
  let depth = 0;
  let j = i + 1;
  while (j < text.length) {
    const c = text[j]!;
    if (c === "\\") j += 2;
    else if (c === "'") {
      const end = text.indexOf("'", j + 1);
      j = end < 0 ? text.length : end + 1;
    } else if (c === '"') {
      j++;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      j++;
    } else {
      if (c === open) depth++;
      else if (c === close && --depth === 0) return j + 1 - i;
      j++;
    }
  }
  return text.length - i;
}

/**
 * Removes quotes from the source text of one word.
 *
 * @param text the word as written, e.g. `'./data/a.txt'`
 * @returns the word after quote removal, e.g. `./data/a.txt`
 * @example
 * ```ts
 * unquoteWord(`"a b"'c'\\ d`); // "a bc d"
 * ```
 */
export function unquoteWord(text: string): string {
  let out = "";
  let i = 0;
  let inDouble = false;
  while (i < text.length) {
    const c = text[i]!;
    if ((c === "$" && (text[i + 1] === "(" || text[i + 1] === "{")) || c === "`") {
      const n = spanLength(text, i);
      out += text.slice(i, i + n);
      i += n;
    } else if (inDouble) {
      if (c === '"') inDouble = false;
      else if (c === "\\" && i + 1 < text.length && '$`"\\\n'.includes(text[i + 1]!)) {
        if (text[i + 1] !== "\n") out += text[i + 1];
        i++;
      } else out += c;
      i++;
    } else if (c === '"') {
      inDouble = true;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      out += text.slice(i + 1, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end + 1;
    } else if (c === "$" && text[i + 1] === "'") {
      const end = text.indexOf("'", i + 2);
      out += text.slice(i + 2, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end + 1;
    } else if (c === "\\" && i + 1 < text.length) {
      if (text[i + 1] !== "\n") out += text[i + 1];
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
