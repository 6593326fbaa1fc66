/**
 * Execution-record mode (services-spec §4.4 step 3, §4.5 "Record mode adds"; the probe index of
 * seamless-transformer): the bucket probes a record-mode jobserver requires in its database
 * before it runs a transformation, and what a record-mode answer adds.
 * @module
 */
export * from "./bucket-probes.ts";
export * from "./host-facts.ts";
export * from "./jobserver-record.ts";
