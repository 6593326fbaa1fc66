/**
 * Human-readable sizes as the Python tools print and parse them (cli-spec §3.12).
 * @module
 */
export * from "./human-size.ts";
export * from "./duration.ts";
