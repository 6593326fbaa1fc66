/**
 * Processes as the operating system sees them: a job's process tree (its group, descendants and
 * marked escapees), found and killed as one, and whether a pid with a given start time is still
 * the process it was. Below `execute`, `buffers`, `gc`, `queue` and the clients, which all ask
 * whether an owner is alive.
 * @module
 */
export * from "./process-tree.ts";
