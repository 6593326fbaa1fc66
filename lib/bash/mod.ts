/**
 * Bash command lines (cli-spec §3.5–§3.9): parsing with tree-sitter-bash in bashlex's terms, a fast path for simple lines, argument typing, file mapping and executable resolution.
 * @module
 */
export * from "./parse.ts";
export * from "./simple-parse.ts";
export * from "./parse-cache.ts";
export * from "./arguments.ts";
export * from "./file-mapping.ts";
export * from "./executable.ts";
export * from "./unquote.ts";
