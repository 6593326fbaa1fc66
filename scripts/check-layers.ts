/**
 * Builds the import graph of `lib/` by domain (a domain is a folder under `lib/`; a file
 * directly in `lib/`, such as `errors.ts`, is a domain of its own) and reports:
 * - the domain-level cycles (strongly connected components of more than one domain), each with
 *   the file imports that make its edges;
 * - imports that break the ground floor: the domains in {@link GROUND_FLOOR} may import only the
 *   domains listed for them (STYLE.md §2: `disk`, `serialize`, `checksum` and `wire` sit below
 *   everything else; so do `concurrency` and `process`, which they or everyone else use).
 *
 * - imports of another domain's internals (its `_`-prefixed files), reported without failing.
 *
 * Every import counts, static, type-only, dynamic (`import("…")`) and `require("…")`: a type
 * import is still a dependency of the design even when it costs nothing at run time.
 *
 * Usage: `bun scripts/check-layers.ts [--verbose] [--json]`; exit code 1 when a ground-floor rule is
 * broken or a cycle exists.
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Ground-floor domains and the only domains each may import. */
export const GROUND_FLOOR: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  disk: ["errors"],
  serialize: ["errors"],
  concurrency: ["errors", "disk"],
  process: ["errors"],
  checksum: ["errors", "disk", "serialize", "concurrency"],
  wire: ["errors", "disk", "serialize", "checksum"],
};

/** One import of one file of `lib/` into another domain. */
export interface DomainImport {
  /** The importing file, relative to the repository root. */
  from: string;
  /** The imported file, relative to the repository root. */
  to: string;
  fromDomain: string;
  toDomain: string;
}

export interface LayerReport {
  /** Domain → the domains it imports. */
  graph: Record<string, string[]>;
  /** Each cycle: its domains (sorted) and the imports between them. */
  cycles: { domains: string[]; imports: DomainImport[] }[];
  /** Imports a ground-floor domain may not make. */
  violations: DomainImport[];
  /** Imports of another domain's `_`-prefixed internals. */
  privateImports: DomainImport[];
}

const IMPORT_PATTERN = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g;

function listFiles(directory: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(directory).sort()) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) files.push(...listFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

function domainOf(libDirectory: string, file: string): string {
  const [first, ...rest] = relative(libDirectory, file).split("/");
  return rest.length ? first! : first!.replace(/\.ts$/, "");
}

/** Strips comments so that an import shown in a doc comment's example is not counted. */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/**
 * Reads every `.ts` file under `libDirectory` and reports its domain graph.
 *
 * @param root the repository root
 * @returns the graph, its cycles and the ground-floor violations
 */
export function checkLayers(root: string): LayerReport {
  const libDirectory = resolve(root, "lib");
  const imports: DomainImport[] = [];
  for (const file of listFiles(libDirectory)) {
    const source = stripComments(readFileSync(file, "utf8"));
    for (const match of source.matchAll(IMPORT_PATTERN)) {
      const target = resolve(dirname(file), match[1]!);
      if (!target.startsWith(libDirectory + "/")) continue;
      const fromDomain = domainOf(libDirectory, file);
      const toDomain = domainOf(libDirectory, target);
      if (fromDomain === toDomain) continue;
      imports.push({ from: relative(root, file), to: relative(root, target), fromDomain, toDomain });
    }
  }
  const graph: Record<string, string[]> = {};
  for (const { fromDomain, toDomain } of imports) {
    (graph[toDomain] ??= []);
    const edges = (graph[fromDomain] ??= []);
    if (!edges.includes(toDomain)) edges.push(toDomain);
  }
  for (const edges of Object.values(graph)) edges.sort();

  const cycles = stronglyConnected(graph)
    .filter((component) => component.length > 1)
    .map((component) => {
      const members = new Set(component);
      return {
        domains: [...component].sort(),
        imports: imports.filter((edge) => members.has(edge.fromDomain) && members.has(edge.toDomain)),
      };
    });
  const violations = imports.filter((edge) => {
    const allowed = GROUND_FLOOR[edge.fromDomain];
    return allowed !== undefined && !allowed.includes(edge.toDomain);
  });
  const privateImports = imports.filter((edge) => /(^|\/)_[^/]*$/.test(edge.to));
  return { graph, cycles, violations, privateImports };
}

/** Tarjan's algorithm: the strongly connected components of `graph`. */
function stronglyConnected(graph: Record<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    lowLink.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph[node] ?? []) {
      if (!index.has(next)) {
        visit(next);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(next)!));
      } else if (onStack.has(next)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(next)!));
      }
    }
    if (lowLink.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const node of Object.keys(graph).sort()) if (!index.has(node)) visit(node);
  return components;
}

function printReport(report: LayerReport, verbose: boolean): void {
  if (report.cycles.length === 0) console.log("No domain-level import cycles in lib/");
  for (const cycle of report.cycles) {
    console.log(`Cycle among ${cycle.domains.length} domains: ${cycle.domains.join(", ")}`);
    const byEdge = Map.groupBy(cycle.imports, (edge) => `${edge.fromDomain} → ${edge.toDomain}`);
    for (const [edge, imports] of [...byEdge].sort(([a], [b]) => a.localeCompare(b))) {
      const files = verbose ? imports : imports.slice(0, 1);
      console.log(`  ${edge} (${imports.length} import${imports.length === 1 ? "" : "s"}${verbose ? "" : ", e.g."} ${files.map((file) => `${file.from} → ${file.to}`).join("; ")})`);
    }
  }
  for (const edge of report.privateImports) console.log(`Private import: ${edge.from} → ${edge.to} (internal to ${edge.toDomain})`);
  if (report.violations.length === 0) console.log(`Ground floor clean: ${Object.keys(GROUND_FLOOR).join(", ")}`);
  for (const edge of report.violations) {
    console.log(`Ground-floor violation: ${edge.fromDomain} may not import ${edge.toDomain} (${edge.from} → ${edge.to})`);
  }
}

if (import.meta.main) {
  const report = checkLayers(resolve(import.meta.dir, ".."));
  if (process.argv.includes("--json")) console.log(JSON.stringify(report, null, 2));
  else printReport(report, process.argv.includes("--verbose"));
  process.exitCode = report.violations.length || report.cycles.length ? 1 : 0;
}
