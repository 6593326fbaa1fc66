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
} as const;

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
  | "record-result-differs-from-irreproducible";

/** Status and message of each refused write (services-spec §3.4). */
export const CONFLICT_ANSWERS: Record<DatabaseConflict, { status: number; message: string }> = {
  "irreproducible-exists": { status: 409, message: "Transformation already has irreproducible records" },
  "transformation-result-differs": { status: 409, message: "Transformation result does not match execution record result" },
  "record-result-differs": { status: 409, message: "Execution record result does not match stored metadata result" },
  "record-differs": { status: 409, message: "Execution record already exists with different metadata" },
  "irreproducible-result-missing": { status: 404, message: "Transformation does not have the irreproducible result" },
  "record-result-differs-from-irreproducible": { status: 409, message: "Stored metadata result does not match irreproducible result" },
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
} as const;

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

/** Decodes a JSON answer (sent as text/plain, services-spec §3.2). */
export function decodeJsonAnswer(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedAnswerError(`expected JSON, got "${text.slice(0, 80)}"`);
  }
}
