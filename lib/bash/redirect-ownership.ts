/**
 * Which redirect belongs to which command, in bashlex's terms (cli-spec §3.5, §3.11). This is
 * the one place that knows it; `parse.ts` asks it for a command's redirects and its barrier.
 *
 * bash (and bashlex) bind a redirect to the simple command it follows: in
 * `mkdir -p r && sort in.txt > r/s.txt` the `> r/s.txt` is `sort`'s. tree-sitter-bash instead
 * wraps the whole list or pipeline in a `redirected_statement`. The rule that undoes this: the
 * redirects of a `redirected_statement` belong to the rightmost command of its body, found by
 * descending through lists, pipelines, `!` and nested redirected statements. When that
 * rightmost element is a compound (`a && ( b ) > f`, `for … done > f`) the redirect is the
 * compound's, as in bashlex, and no command owns it.
 * @module
 */
import type { Node } from "web-tree-sitter";

/** tree-sitter node types that are redirects. */
export const REDIRECT_TYPES: ReadonlySet<string> = new Set(["file_redirect", "heredoc_redirect", "herestring_redirect"]);

/** Nodes a redirect passes through to reach its command (the command is their rightmost child). */
const TRANSPARENT = new Set(["list", "pipeline", "negated_command"]);

function lastNamedChild(node: Node): Node | null {
  const children = node.namedChildren.filter((c): c is Node => !!c && c.type !== "comment");
  return children[children.length - 1] ?? null;
}

/**
 * Redirect children of a node. tree-sitter-bash nests whatever follows `<<EOF` on its line
 * inside the heredoc_redirect (`cat <<EOF > out.txt` has the `> out.txt` as the heredoc's
 * child); they are the same command's redirects, so they are lifted out here.
 */
function redirectChildren(node: Node): Node[] {
  const found: Node[] = [];
  for (const child of node.namedChildren) {
    if (!child || !REDIRECT_TYPES.has(child.type)) continue;
    found.push(child);
    if (child.type === "heredoc_redirect") found.push(...child.childrenForFieldName("redirect").filter((r): r is Node => !!r));
  }
  return found;
}

/**
 * The pipeline that continues after a here-document's start (`cat <<EOF | sort > out`), which
 * tree-sitter-bash nests inside the heredoc_redirect; bashlex sees one pipeline `cat | sort`.
 */
export function heredocPipelineOf(command: Node): Node | null {
  for (const redirect of ownedRedirectNodes(command)) {
    if (redirect.type !== "heredoc_redirect") continue;
    const pipeline = redirect.namedChildren.find((c) => c?.type === "pipeline");
    if (pipeline) return pipeline;
  }
  return null;
}

function isBodyOf(statement: Node, node: Node): boolean {
  return statement.type === "redirected_statement" && statement.childForFieldName("body")?.id === node.id;
}

/**
 * The redirects bashlex would put in `command`'s node: its own, plus those of every enclosing
 * `redirected_statement` whose body ends with this command. Sorted by position.
 *
 * @param command a tree-sitter command node
 * @returns its redirect nodes
 */
export function ownedRedirectNodes(command: Node): Node[] {
  const owned = redirectChildren(command);
  let node = command;
  for (let parent = node.parent; parent; node = parent, parent = parent.parent) {
    if (isBodyOf(parent, node)) owned.push(...redirectChildren(parent));
    else if (!(TRANSPARENT.has(parent.type) && lastNamedChild(parent)?.id === node.id)) break;
  }
  return owned.sort((a, b) => a.startIndex - b.startIndex);
}

/**
 * Start offsets of every redirect bashlex's word visitor meets inside `command`: its own
 * redirects and those nested in its words (`$(…)`, `<(…)`, `>(…)`), but nothing inside a
 * redirect (the visitor does not descend into redirects).
 *
 * @param command a tree-sitter command node
 * @param owned its redirects, from {@link ownedRedirectNodes}
 */
export function redirectStartsWithin(command: Node, owned: Node[]): number[] {
  const starts = owned.map((r) => r.startIndex);
  const visit = (node: Node) => {
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (REDIRECT_TYPES.has(child.type)) {
        if (node.id !== command.id) starts.push(child.startIndex); // the command's own are in `owned`
        continue;
      }
      visit(child);
    }
  };
  visit(command);
  return starts;
}

/**
 * The redirect barrier (cli-spec §3.5): the start of the LAST redirect met inside the command.
 * Words must end strictly before it (bashlex compares `word.pos[1] < barrier`).
 */
export function redirectBarrier(starts: number[]): number {
  return starts.length ? Math.max(...starts) : Infinity;
}

/**
 * For a compound at the top (`( … ) > out`, `for … done > out`): every redirect inside it,
 * nested ones included, as bashlex's redirection visitor walks the whole compound.
 */
export function compoundRedirectNodes(statement: Node): Node[] {
  const found: Node[] = [];
  const visit = (node: Node) => {
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (REDIRECT_TYPES.has(child.type)) found.push(child);
      else visit(child);
    }
  };
  visit(statement);
  return found.sort((a, b) => a.startIndex - b.startIndex);
}
