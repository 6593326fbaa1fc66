/**
 * The seamless-database wire protocol (services-spec §3.2–§3.3), shared by the client
 * (`clients/database.ts`) and the server (`servers/database.ts`): routes, request types,
 * status meanings, `ERROR: …` bodies, checksum parsing, request encoding and answer decoding.
 * Nobody else spells these. Every read is a GET that carries a JSON body (services-spec §0.4).
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { dumpsPythonJson } from "../serialize/python-json.ts";
import { parsePlain, type PlainValue } from "../serialize/plain-json.ts";

/** Request paths. The server ignores the path of GET and PUT; clients send to `/`. */
export const DatabasePath = { request: "/", healthcheck: "/healthcheck" } as const;

/** The protocol version the `protocol` request answers (the code's, not the README's 2.1). */
export const DATABASE_PROTOCOL = ["seamless", "database", "2.2"] as const;

/** Every request type the server knows (services-spec §3.3). */
export const DATABASE_REQUEST_TYPES = [
  "protocol", "buffer_info", "syntactic_to_semantic", "semantic_to_syntactic", "transformation", "metadata",
  "bucket_probe", "expression", "irreproducible", "rev_expression", "rev_transformations",
  // Newer than DB @300b13c (services-spec §9): HashType words per checksum.
  "hash_type",
] as const;

/** A request type. */
export type DatabaseRequestType = (typeof DATABASE_REQUEST_TYPES)[number];

/** Types whose requests carry no `checksum` (a GET `protocol` is answered before any lookup). */
export const TYPES_WITHOUT_CHECKSUM: readonly DatabaseRequestType[] = ["protocol", "bucket_probe"];

/** The `bucket_kind` values of a bucket probe. */
export const BUCKET_KINDS = ["node", "environment", "node_env", "queue", "queue_node"] as const;

/** Status codes and what they mean on this protocol. */
export const DatabaseStatus = {
  ok: 200,
  badRequest: 400,
  /** GET of a missing key; PUT `irreproducible` of a result the entry does not hold. */
  notFound: 404,
  /** PUT on a read-only server; any method other than GET and PUT. */
  methodNotAllowed: 405,
  conflict: 409,
  /** Our addition: a body over the server's limit. */
  tooLarge: 413,
} as const;

/** Every answer is text, JSON ones included (services-spec §3.2). */
export const DATABASE_CONTENT_TYPE = "text/plain; charset=utf-8";

/** The `ERROR: …` messages, without the prefix. */
export const DatabaseMessage = {
  unknownKey: "Unknown key",
  malformed: "Malformed request",
  unknownType: "Unknown request type",
  readOnly: "Database server is read-only",
  malformedTransformationPut: "Malformed PUT transformation result request: value must be a checksum",
  malformedMetadataPut: "Malformed PUT metadata request",
  malformedIrreproduciblePut: "Malformed 'irreproducible' request",
  malformedIrreproducibleGet: "Malformed irreproducible request",
  malformedBufferInfoPut: "Malformed PUT buffer info request",
  malformedSemanticToSyntacticPut: "Malformed PUT semantic-to-syntactic request",
  malformedSemanticToSyntactic: "Malformed semantic-to-syntactic request",
  malformedSyntacticToSemantic: "Malformed syntactic-to-semantic request",
  malformedExpression: "Malformed expression request",
  expressionConstraint: "Malformed expression request (constraint violation)",
  malformedBucketProbePut: "Malformed PUT bucket_probe request",
  malformedBucketProbe: "Malformed bucket_probe request",
  malformedHashTypePut: "Malformed PUT hash_type request",
} as const;

/** The 409 text of a contradictory HashType word (UNCERTAIN: upstream logs this text; its body is not pinned). */
export function hashTypeConflictMessage(checksum: Checksum, stored: number, incoming: number): string {
  return `Conflicting HashType for ${checksum}: stored=${stored}, incoming=${incoming}`;
}

/** The body of an error answer. */
export function errorBody(message: string): string {
  return `ERROR: ${message}`;
}

/** Fixed bodies. */
export const DatabaseBody = {
  healthy: "OK",
  stored: "OK",
  /** aiohttp's answer to a method without a route. */
  methodNotAllowed: "405: Method Not Allowed",
} as const;

/** Why a write was refused (services-spec §3.4); {@link CONFLICT_ANSWERS} maps each to a status and text;
 * `DatabaseFile` (lib/cache) returns them. */
export type DatabaseConflict =
  | "irreproducible-exists"
  | "transformation-result-differs"
  | "record-result-differs"
  | "record-differs"
  | "irreproducible-result-missing"
  | "record-result-differs-from-irreproducible"
  | "expression-result-differs";

/** Status and message of each refused write (services-spec §3.4). */
export const CONFLICT_ANSWERS: Record<DatabaseConflict, { status: number; message: string }> = {
  "irreproducible-exists": { status: 409, message: "Transformation already has irreproducible records" },
  "transformation-result-differs": { status: 409, message: "Transformation result does not match execution record result" },
  "record-result-differs": { status: 409, message: "Execution record result does not match stored metadata result" },
  "record-differs": { status: 409, message: "Execution record already exists with different metadata" },
  "irreproducible-result-missing": { status: 404, message: "Transformation does not have the irreproducible result" },
  "record-result-differs-from-irreproducible": { status: 409, message: "Stored metadata result does not match irreproducible result" },
  "expression-result-differs": { status: 409, message: "Expression already exists with different result" },
};

/** A parsed wire checksum, or why not. */
export type WireChecksum = { ok: true; checksum: Checksum } | { ok: false; reason: "not-hex" | "wrong-length" | "not-a-string" };

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isAsciiSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Parses a checksum as Python's `bytes.fromhex(...).hex()` does: case-insensitive hex pairs,
 * ASCII whitespace allowed between pairs, lowercase out. Python then asserts 32 bytes (a 500
 * when it fails, QUIRK §3.2); we report `wrong-length` so the server can answer 400.
 */
export function parseDatabaseChecksum(value: unknown): WireChecksum {
  if (typeof value !== "string") return { ok: false, reason: "not-a-string" };
  if (value.length === 64 && /^[0-9a-f]{64}$/.test(value)) return { ok: true, checksum: value };
  let hex = "";
  for (let i = 0; i < value.length;) {
    const c = value.charCodeAt(i);
    if (isAsciiSpace(c)) {
      i++;
      continue;
    }
    if (i + 1 >= value.length || !isHex(c) || !isHex(value.charCodeAt(i + 1))) return { ok: false, reason: "not-hex" };
    hex += value.slice(i, i + 2);
    i += 2;
  }
  if (hex.length !== 64) return { ok: false, reason: "wrong-length" };
  return { ok: true, checksum: hex.toLowerCase() };
}

/**
 * Formats a successful GET result as the server sends it: strings bare, everything else as
 * Python's `json.dumps` (`", "`/`": "` separators, `ensure_ascii`).
 */
export function formatDatabaseResult(value: unknown): string {
  return typeof value === "string" ? value : dumpsPythonJson(value);
}

/** A request body (GET or PUT); the fields besides `type` depend on the type (services-spec §3.3). */
export interface DatabaseRequest {
  type: DatabaseRequestType;
  checksum?: Checksum;
  [field: string]: unknown;
}

/** Encodes a request body. */
export function encodeDatabaseRequest(request: DatabaseRequest): string {
  // Freshness tokens carry Python ints beyond 2^53 (mtimes in ns) as bigint, which JSON.stringify refuses.
  return request.type === "bucket_probe" ? dumpsPythonJson(request, { compact: true }) : JSON.stringify(request);
}

/** Builds the request of each client operation (services-spec §6.3), in one place. */
export const DatabaseRequests = {
  protocol: (): DatabaseRequest => ({ type: "protocol" }),
  getTransformation: (tf: Checksum): DatabaseRequest => ({ type: "transformation", checksum: tf }),
  setTransformation: (tf: Checksum, result: Checksum): DatabaseRequest => ({ type: "transformation", checksum: tf, value: result }),
  getRevTransformations: (result: Checksum): DatabaseRequest => ({ type: "rev_transformations", checksum: result }),
  getMetadata: (tf: Checksum): DatabaseRequest => ({ type: "metadata", checksum: tf }),
  setMetadata: (tf: Checksum, result: Checksum, record: Record<string, unknown>): DatabaseRequest => ({ type: "metadata", checksum: tf, result, value: record }),
  getIrreproducible: (tf: Checksum, result?: Checksum): DatabaseRequest => (result === undefined ? { type: "irreproducible", checksum: tf } : { type: "irreproducible", checksum: tf, result }),
  setIrreproducible: (tf: Checksum, result: Checksum): DatabaseRequest => ({ type: "irreproducible", checksum: tf, result }),
  getBucketProbe: (bucketKind: string, label: string): DatabaseRequest => ({ type: "bucket_probe", bucket_kind: bucketKind, label }),
  setBucketProbe: (probe: BucketProbe): DatabaseRequest => ({ type: "bucket_probe", ...probe }),
  getHashType: (checksum: Checksum): DatabaseRequest => ({ type: "hash_type", checksum }),
  setHashType: (checksum: Checksum, word: number): DatabaseRequest => ({ type: "hash_type", checksum, value: word }),
  /** The newer shape (services-spec §9): `input_celltype` is what the input is read as, `celltype` what comes out. */
  getExpression: (key: ExpressionKey): DatabaseRequest => ({ type: "expression", checksum: key.checksum, path: key.path, input_celltype: key.inputCelltype, celltype: key.celltype }),
  setExpression: (key: ExpressionKey, result: Checksum): DatabaseRequest => ({ ...DatabaseRequests.getExpression(key), value: result }),
  getRevExpressions: (result: Checksum): DatabaseRequest => ({ type: "rev_expression", checksum: result }),
} as const;

/** The identity of an expression: input checksum, path (any JSON), input celltype, result celltype. */
export interface ExpressionKey {
  checksum: Checksum;
  path: unknown;
  inputCelltype: string;
  celltype: string;
}

/** A `rev_expression` item: an expression key and its result. */
export interface ExpressionEntry extends ExpressionKey {
  result: Checksum;
}

/**
 * The celltypes of an expression request in either shape: the newer one (`input_celltype`,
 * `celltype`) when `input_celltype` is present, else DB @300b13c's (`celltype` for the input,
 * `target_celltype` for the result). The stored columns are the older names.
 */
export function expressionCelltypes(request: Record<string, unknown>): { shape: "newer" | "older"; input: unknown; output: unknown; present: boolean } {
  if (Object.hasOwn(request, "input_celltype")) {
    return { shape: "newer", input: request.input_celltype, output: request.celltype, present: Object.hasOwn(request, "celltype") };
  }
  return { shape: "older", input: request.celltype, output: request.target_celltype, present: Object.hasOwn(request, "celltype") && Object.hasOwn(request, "target_celltype") };
}

/** A bucket probe as the database stores and answers it (services-spec §3.3 `bucket_probe`). */
export interface BucketProbe {
  bucket_kind: (typeof BUCKET_KINDS)[number];
  label: string;
  /** The checksum of the probe payload (a plain JSON buffer on the hashserver). */
  bucket_checksum: Checksum;
  captured_at: string;
  /** What must still hold for the probe to be fresh; integers beyond 2^53 are bigint. */
  freshness_tokens: { [key: string]: PlainValue };
}

/**
 * Decodes a `bucket_probe` GET answer, keeping large integers exact (they are compared with
 * live values).
 *
 * @throws {MalformedAnswerError} when the answer is not a probe
 */
export function decodeBucketProbeAnswer(text: string): BucketProbe {
  let value: PlainValue;
  try {
    value = parsePlain(text);
  } catch {
    throw new MalformedAnswerError(`expected JSON, got "${text.slice(0, 80)}"`);
  }
  const probe = value as Record<string, PlainValue>;
  if (
    !probe || typeof probe !== "object" || Array.isArray(probe) || typeof probe.label !== "string" || typeof probe.bucket_checksum !== "string" ||
    !(BUCKET_KINDS as readonly unknown[]).includes(probe.bucket_kind) || !probe.freshness_tokens || typeof probe.freshness_tokens !== "object" || Array.isArray(probe.freshness_tokens)
  ) {
    throw new MalformedAnswerError("expected a bucket probe object");
  }
  return value as unknown as BucketProbe;
}

/** Thrown by the decoders when an answer does not have the shape its request type promises. */
export class MalformedAnswerError extends Error {}

/** Decodes a bare-checksum answer (`transformation`, `expression`). */
export function decodeChecksumAnswer(text: string): Checksum {
  const parsed = parseDatabaseChecksum(text.trim());
  if (!parsed.ok) throw new MalformedAnswerError(`expected a checksum, got "${text.slice(0, 80)}"`);
  return parsed.checksum;
}

/** Decodes a JSON-list-of-checksums answer (`rev_transformations`, `semantic_to_syntactic`). */
export function decodeChecksumListAnswer(text: string): Checksum[] {
  const value = decodeJsonAnswer(text);
  if (!Array.isArray(value)) throw new MalformedAnswerError("expected a JSON list");
  return value.map((item) => {
    const parsed = parseDatabaseChecksum(item);
    if (!parsed.ok) throw new MalformedAnswerError(`expected checksums, got ${JSON.stringify(item)}`);
    return parsed.checksum;
  });
}

/** Decodes a `hash_type` answer: a well-formed word. */
export function decodeHashTypeAnswer(text: string): number {
  const value = decodeJsonAnswer(text);
  if (!isValidHashTypeWord(value)) throw new MalformedAnswerError(`expected a HashType word, got "${text.slice(0, 80)}"`);
  return value;
}

/** Decodes a `rev_expression` answer in either item shape (newer: `input_celltype`/`celltype`; DB @300b13c: `celltype`/`target_celltype`). */
export function decodeRevExpressionsAnswer(text: string): ExpressionEntry[] {
  const value = decodeJsonAnswer(text);
  if (!Array.isArray(value)) throw new MalformedAnswerError("expected a JSON list");
  return value.map((item) => {
    if (!item || typeof item !== "object") throw new MalformedAnswerError("expected expression objects");
    const { shape: _shape, input, output } = expressionCelltypes(item as Record<string, unknown>);
    const checksum = parseDatabaseChecksum((item as Record<string, unknown>).checksum);
    const result = parseDatabaseChecksum((item as Record<string, unknown>).result);
    if (!checksum.ok || !result.ok || typeof input !== "string" || typeof output !== "string") throw new MalformedAnswerError(`expected an expression, got ${JSON.stringify(item).slice(0, 200)}`);
    return { checksum: checksum.checksum, path: (item as Record<string, unknown>).path, inputCelltype: input, celltype: output, result: result.checksum };
  });
}

/** Decodes a JSON answer (sent as text/plain, services-spec §3.2). */
export function decodeJsonAnswer(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedAnswerError(`expected JSON, got "${text.slice(0, 80)}"`);
  }
}

// --- HashType words (services-spec §9; upstream contract "HashType", *The word*) ------------

/**
 * A HashType word is a 13-bit integer: kind in bits 0–3, length bucket in 4–5, NumPy dtype
 * class in 6–7, rank in 8–9, flags in 10–12. The database checks that a word is well formed,
 * not that it is true, and only ever tightens the word it holds.
 */
export const HashTypeKind = {
  rawBytes: 0, numpy: 1, mixedObject: 2, mixedArray: 3, rawText: 4, jsonObject: 5, jsonArray: 6, jsonString: 7, jsonNumber: 8,
  untested: 9, utf8Untested: 10, jsonUntested: 11,
} as const;

/** HashType flag bits (after the shift). `semantic` is retired: a word carrying it is malformed. */
export const HashTypeFlag = { numericScalar: 1, numpyBytes: 2, semantic: 4 } as const;

/** The word's fields. */
export interface HashTypeFields {
  kind: number;
  length: number;
  dtype: number;
  rank: number;
  flags: number;
}

const HASH_TYPE_WORD_LIMIT = 1 << 13;
/** The highest kind number in use; UNCERTAIN: upstream plans `JSON_NULL = 12`, not yet in its code. */
const HASH_TYPE_MAX_KIND = HashTypeKind.jsonUntested;
const UTF8_KINDS = new Set<number>([4, 5, 6, 7, 8, 10, 11]);
const JSON_KINDS = new Set<number>([5, 6, 7, 8, 11]);

/** Packs the fields into a word (no validation). */
export function packHashType(fields: Partial<HashTypeFields> & Pick<HashTypeFields, "kind" | "length">): number {
  return fields.kind | (fields.length << 4) | ((fields.dtype ?? 0) << 6) | ((fields.rank ?? 0) << 8) | ((fields.flags ?? 0) << 10);
}

/** Splits a word into its fields (no validation). */
export function unpackHashType(word: number): HashTypeFields {
  return { kind: word & 0xf, length: (word >> 4) & 3, dtype: (word >> 6) & 3, rank: (word >> 8) & 3, flags: (word >> 10) & 7 };
}

/**
 * Whether `value` is a well-formed HashType word: an integer (not a bool, not a float) in
 * [0, 2^13) whose kind exists, whose dtype is set exactly for NumPy, whose rank is non-scalar
 * only for NumPy, whose NUMPY_BYTES flag sits only on a non-numeric NumPy scalar, whose
 * NUMERIC_SCALAR flag sits only on a JSON string or number (and always on a number), and which
 * does not carry the retired SEMANTIC bit.
 */
export function isValidHashTypeWord(value: unknown): value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= HASH_TYPE_WORD_LIMIT) return false;
  const { kind, dtype, rank, flags } = unpackHashType(value);
  if (kind > HASH_TYPE_MAX_KIND) return false;
  const numpy = kind === HashTypeKind.numpy;
  if ((dtype !== 0) !== numpy) return false;
  if (rank !== 0 && !numpy) return false;
  if (flags & HashTypeFlag.numpyBytes && !(numpy && dtype === 2 && rank === 0)) return false;
  if (kind === HashTypeKind.jsonNumber && !(flags & HashTypeFlag.numericScalar)) return false;
  if (flags & HashTypeFlag.numericScalar && kind !== HashTypeKind.jsonNumber && kind !== HashTypeKind.jsonString) return false;
  return !(flags & HashTypeFlag.semantic);
}

/**
 * Whether `tighter` holds every tested fact of `looser`: the same length bucket, and then
 * UNTESTED is implied by any word, UTF8_UNTESTED by any UTF-8 word, JSON_UNTESTED by any JSON
 * word, and a concrete word only by itself (all fields, flags included).
 */
export function hashTypeImplies(tighter: number, looser: number): boolean {
  const t = unpackHashType(tighter);
  const l = unpackHashType(looser);
  if (t.length !== l.length) return false;
  if (l.kind === HashTypeKind.untested) return true;
  if (l.kind === HashTypeKind.utf8Untested) return UTF8_KINDS.has(t.kind);
  if (l.kind === HashTypeKind.jsonUntested) return JSON_KINDS.has(t.kind);
  return tighter === looser;
}

/** What a PUT of `incoming` does to a stored word: keep it (equal or looser), replace it, or refuse (409). */
export type HashTypeOutcome = "keep" | "replace" | "conflict";

/** The tighten-only rule shared by every holder of HashType words. */
export function settleHashType(stored: number, incoming: number): HashTypeOutcome {
  if (stored === incoming || hashTypeImplies(stored, incoming)) return "keep";
  return hashTypeImplies(incoming, stored) ? "replace" : "conflict";
}
