/**
 * Serialization byte-identical to Python Seamless: orjson-style canonical JSON with Python's int/float distinction, per-celltype buffers, deep-index key rules (cli-spec §1.2), and Python `json.dumps` layout for the database (services-spec §3).
 * @module
 */
export * from "./plain-json.ts";
export * from "./celltypes.ts";
export * from "./deep-index.ts";
export * from "./python-json.ts";
