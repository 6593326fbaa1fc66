/**
 * Local execution (cli-spec §3.14–§3.18): workspaces, bash in its own process group, single flight across processes, futures, and turning results into files.
 * @module
 */
export * from "./compute.ts";
export * from "./execute-bash.ts";
export * from "./run-bash.ts";
export * from "./results.ts";
export * from "./futures.ts";
export * from "./workspace.ts";
export * from "./single-flight.ts";
export * from "./spawn.ts";
export * from "./environment.ts";
export * from "./fingertip.ts";
export * from "./cancel.ts";
export * from "./result-dirs.ts";
export * from "./recover-corrupt.ts";
export { InputChangedError, LINK_MIN_BYTES } from "./_linked-inputs.ts";
export * from "./compute-remote.ts";
