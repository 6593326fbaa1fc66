/**
 * Bash transformations (cli-spec §2, §3.10–§3.13): the transformation dict, its identity checksum, and the generated code.
 * @module
 */
export * from "./dict.ts";
export * from "./bash-code.ts";
export * from "./prepare-bash.ts";
export * from "./environment.ts";
export * from "./load.ts";
