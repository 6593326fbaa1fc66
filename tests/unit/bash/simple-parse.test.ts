import { describe, expect, test } from "bun:test";
import { parseSimpleCommandLine } from "../../../lib/bash/simple-parse.ts";
import { parseCommandLine } from "../../../lib/bash/parse.ts";
import { SIMPLE_COMMAND } from "../../fixtures/spec-vectors.ts";

/** Commands the fast path accepts: its result must equal tree-sitter's, field for field. */
const ACCEPTED = [
  "echo hello", "wc -l small.txt", "head -3 data/a.txt > out.txt", "cat a.txt | sort | uniq -c > counts.txt",
  "cat a.txt >> log.txt", "ls data/", "echo 'a b' c", "awk '{print $1}' f.txt", SIMPLE_COMMAND, "  echo   spaced  ",
  "python3 script.py --n=3 -x 1.5", "grep -c foo a.txt|wc -l", "sort -k2,2 -t: x.csv > 'out file.txt'", "echo a'b c'd",
  "./x.sh input.dat", "tr a-z A-Z", "echo 42", "cp a.txt b.txt", "echo ^caret@at%percent+plus",
];

/** Commands it must refuse (they need the real parser). */
const REFUSED = [
  "X=1 cat a.txt", "echo $HOME", 'echo "a b"', "a; b", "a && b", "a || b", "(a | b) > o", "cat < in.txt", "echo a 2>err",
  "echo a > x > y", "echo a > x b", "for f in a; do echo $f; done", "echo *.txt", "echo ~/x", "cat a |& b", "echo a&", "",
  "echo 'unterminated", "if true; then echo; fi", "echo a\\ b", "echo {a,b}", "[ -f x ]", "echo #comment",
];

describe("parseSimpleCommandLine()", () => {
  for (const command of ACCEPTED) {
    test(`agrees with tree-sitter on ${JSON.stringify(command)}`, async () => {
      const fast = parseSimpleCommandLine(command);
      expect(fast).not.toBeNull();
      expect(fast).toEqual(await parseCommandLine(command));
    });
  }
  for (const command of REFUSED) {
    test(`refuses ${JSON.stringify(command)}`, () => expect(parseSimpleCommandLine(command)).toBeNull());
  }
});
