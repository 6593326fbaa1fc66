/**
 * The run log (issue 23 §1–§2): every `seamless run` and `run-transformation` appends one
 * entry (time, directory, command, transformation and result checksums, outcome, wall time,
 * time saved, stderr tail) to a journal in the cache directory; `seamless log`, `stats` and
 * `explain` read it through {@link RunLog}. Our own files (`run-log/`), not part of the Python
 * `seamless.db` schema (services-spec §3.5), whose execution records (§3.4) give the time a
 * cache hit saved.
 * @module
 */
export * from "./entry.ts";
export * from "./append.ts";
export * from "./record.ts";
export * from "./run-log.ts";
export * from "./explain.ts";
