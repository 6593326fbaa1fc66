/**
 * Parses a command string with tree-sitter-bash and re-expresses it in bashlex's terms
 * (cli-spec §3.5): commands sorted by start, words with quotes removed, the redirect barrier,
 * assignment prefixes dropped, and each command's primary pipeline.
 * @module
 */
import { Language, Parser, type Node } from "web-tree-sitter";
import runtimeWasmPath from "web-tree-sitter/tree-sitter.wasm" with { type: "file" };
import bashWasmPath from "tree-sitter-bash/tree-sitter-bash.wasm" with { type: "file" };
import { readFileSync } from "node:fs";
import { SeamlessError } from "../errors.ts";
import { unquoteWord } from "./unquote.ts";
import type { BashCommand, BashRedirect, BashWord, CommandLine } from "./command-line.ts";
import { REDIRECT_TYPES, compoundRedirectNodes, heredocPipelineOf, ownedRedirectNodes, redirectBarrier, redirectStartsWithin } from "./redirect-ownership.ts";

/** The command string is not bash that we can analyse. */
export class BashSyntaxError extends SeamlessError {}

let parserPromise: Promise<Parser> | null = null;

async function loadParser(): Promise<Parser> {
  await Parser.init({ wasmBinary: readFileSync(runtimeWasmPath) });
  const language = await Language.load(readFileSync(bashWasmPath));
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

const COMMAND_TYPES = new Set(["command", "declaration_command", "unset_command", "test_command"]);
const COMPOUND_TYPES = new Set([
  "subshell", "compound_statement", "for_statement", "c_style_for_statement", "while_statement",
  "if_statement", "case_statement", "function_definition",
]);
const STATEMENT_CONTAINERS = new Set(["program", "list", "subshell", "compound_statement", "do_group", "if_statement", "elif_clause", "else_clause", "case_item", "while_statement"]);

function isBareAssignment(node: Node): boolean {
  return (node.type === "variable_assignment" || node.type === "variable_assignments") && STATEMENT_CONTAINERS.has(node.parent?.type ?? "");
}

function isCommandNode(node: Node): boolean {
  return COMMAND_TYPES.has(node.type) || isBareAssignment(node);
}

/** Descendant command nodes of `node`, not descending into nested commands. */
function nestedCommands(node: Node): Node[] {
  const found: Node[] = [];
  const visit = (n: Node) => {
    for (const child of n.namedChildren) {
      if (!child) continue;
      if (isCommandNode(child)) found.push(child);
      else visit(child);
    }
  };
  visit(node);
  return found;
}

function parseRedirect(node: Node, source: string): BashRedirect {
  let fd: number | null = null;
  let op = "";
  let target: string | null = null;
  let span: { targetStart: number; targetEnd: number } | null = null;
  for (const child of node.children) {
    if (!child) continue;
    if (child.type === "file_descriptor") fd = Number(child.text);
    else if (!child.isNamed && op === "") op = child.type;
    else if (child.isNamed && target === null && child.type !== "file_descriptor") {
      if (node.type === "heredoc_redirect") {
        if (child.type === "heredoc_start") target = unquoteWord(child.text);
      } else {
        target = unquoteWord(source.slice(child.startIndex, child.endIndex));
        span = { targetStart: child.startIndex, targetEnd: child.endIndex };
      }
    }
  }
  return { start: node.startIndex, fd, op, target, ...span };
}

/**
 * tree-sitter gives `sort > out.txt words.txt` one file_redirect with two destinations; bashlex
 * (and bash) read the second as an argument of the command.
 */
function extraDestinations(redirect: Node): Node[] {
  if (redirect.type !== "file_redirect") return [];
  return redirect.childrenForFieldName("destination").filter((d): d is Node => !!d).slice(1);
}

function collectWords(command: Node, source: string, out: BashWord[], owned: Node[]): void {
  const emit = (node: Node) => {
    out.push({ text: unquoteWord(source.slice(node.startIndex, node.endIndex)), start: node.startIndex, end: node.endIndex });
    for (const nested of nestedCommands(node)) collectWords(nested, source, out, ownedRedirectNodes(nested));
  };
  if (command.type === "test_command") {
    // bashlex has no test expressions: `[ -f x ]` is the command `[` with words -f, x, ].
    const re = /(?:[^\s'"\\]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+/g;
    const text = source.slice(command.startIndex, command.endIndex);
    for (const match of text.matchAll(re)) {
      const start = command.startIndex + match.index!;
      out.push({ text: unquoteWord(match[0]), start, end: start + match[0].length });
    }
    return;
  }
  if (isBareAssignment(command)) return;
  for (const child of command.children) {
    if (!child) continue;
    if (child.type === "variable_assignment" && command.type === "command") continue; // prefix assignment
    if (child.type === "command_name") emit(child);
    else if (REDIRECT_TYPES.has(child.type)) continue; // bashlex's word visitor does not enter redirects
    else if (child.isNamed) emit(child);
    else if (command.type !== "command" && /^[a-z]+$/.test(child.type)) emit(child); // export, declare, unset …
  }
  for (const redirect of owned) for (const extra of extraDestinations(redirect)) emit(extra);
}

function unwrap(node: Node): Node {
  if (node.type === "redirected_statement") {
    const body = node.childForFieldName("body");
    if (body) return body;
  }
  return node;
}

function contains(outer: Node, inner: Node): boolean {
  return outer.startIndex <= inner.startIndex && inner.endIndex <= outer.endIndex;
}

function statementsOf(container: Node): Node[] {
  return container.namedChildren.filter((c): c is Node => !!c && c.type !== "comment" && !["variable_name", "word", "heredoc_body"].includes(c.type));
}

/** Groups top-level statements into bashlex trees: statements on one line form one list. */
function topLevelTrees(root: Node, source: string): Node[][] {
  const trees: Node[][] = [];
  let previous: Node | null = null;
  for (const statement of statementsOf(root)) {
    const newLine = previous === null || source.slice(previous.endIndex, statement.startIndex).includes("\n");
    if (newLine) trees.push([statement]);
    else trees[trees.length - 1]!.push(statement);
    previous = statement;
  }
  return trees;
}

/** The node whose commands form `command`'s primary pipeline (cli-spec §3.5). */
function primaryPipelineNode(command: Node, trees: Node[][]): Node | null {
  const tree = trees.find((statements) => statements.some((s) => contains(s, command)));
  if (!tree) return null;
  let node: Node;
  if (tree.length > 1) node = unwrap(tree.find((s) => contains(s, command))!);
  else {
    node = unwrap(tree[0]!);
    if (node.type === "list" || COMPOUND_TYPES.has(node.type)) {
      let container: Node = node;
      if (node.type !== "list") {
        const body = node.childForFieldName("body");
        if (body) container = body;
        if (container.type === "function_definition" || COMPOUND_TYPES.has(container.type)) {
          const inner = container.childForFieldName("body");
          if (inner) container = inner;
        }
      }
      const statements = statementsOf(container).filter((s) => contains(s, command));
      const all = statementsOf(container);
      if (statements.length === 0) return null;
      // Several statements in the body form a bashlex list: not a pipeline.
      if (container !== node && all.length > 1 && node.type !== "list") return null;
      node = unwrap(statements[0]!);
    }
  }
  return node.type === "pipeline" ? node : null;
}

/**
 * Parses a command string.
 *
 * @param source the command string
 * @returns its commands, words, redirects and pipelines
 * @throws {BashSyntaxError} when tree-sitter finds a syntax error
 */
export async function parseCommandLine(source: string): Promise<CommandLine> {
  parserPromise ??= loadParser();
  const parser = await parserPromise;
  const tree = parser.parse(source);
  if (!tree) throw new BashSyntaxError("Unrecognized bash syntax");
  const root = tree.rootNode;
  if (root.hasError) throw new BashSyntaxError(`Unrecognized bash syntax: ${JSON.stringify(source.length > 80 ? `${source.slice(0, 77)}...` : source)}`);

  const nodes: Node[] = [];
  const visit = (n: Node) => {
    for (const child of n.namedChildren) {
      if (!child) continue;
      if (isCommandNode(child)) nodes.push(child);
      visit(child);
    }
  };
  visit(root);
  nodes.sort((a, b) => a.startIndex - b.startIndex);

  const trees = topLevelTrees(root, source);
  const commands: BashCommand[] = nodes.map((node) => {
    const owned = ownedRedirectNodes(node);
    const redirects = owned.map((r) => parseRedirect(r, source));
    const barrier = redirectBarrier(redirectStartsWithin(node, owned));
    const words: BashWord[] = [];
    collectWords(node, source, words, owned);
    words.sort((a, b) => a.start - b.start);
    return { start: node.startIndex, end: node.endIndex, words: words.filter((w) => w.end < barrier), redirects, pipeline: [] };
  });
  nodes.forEach((node, i) => {
    const pipeline = primaryPipelineNode(node, trees);
    commands[i]!.pipeline = pipeline ? nodes.flatMap((other, j) => (contains(pipeline, other) ? [j] : [])) : [i];
    const continued = heredocPipelineOf(node);
    if (continued) commands[i]!.pipeline = [...commands[i]!.pipeline, ...nodes.flatMap((other, j) => (contains(continued, other) ? [j] : []))];
  });

  let compoundRedirects: BashRedirect[] = [];
  const first = trees[0];
  if (first && first.length === 1 && first[0]!.type === "redirected_statement" && COMPOUND_TYPES.has(unwrap(first[0]!).type)) {
    compoundRedirects = compoundRedirectNodes(first[0]!).map((r) => parseRedirect(r, source));
  }
  const functionNames = root.descendantsOfType("function_definition").flatMap((f) => {
    const name = f?.childForFieldName("name")?.text;
    return name ? [name] : [];
  });
  tree.delete();
  return { commands, compoundRedirects, functionNames };
}
