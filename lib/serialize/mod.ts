/**
 * Serialization byte-identical to Python Seamless: orjson-style canonical JSON with Python's int/float distinction, per-celltype buffers, and deep-index key rules (cli-spec §1.2).
 * @module
 */
export * from "./plain-json.ts";
export * from "./celltypes.ts";
export * from "./deep-index.ts";
export * from "./python-json.ts";
