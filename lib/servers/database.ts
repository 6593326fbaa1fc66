/**
 * The seamless-database service (services-spec §3) as a plain handler: every request type,
 * status code and `ERROR: …` body of the Python server, on a {@link DatabaseFile}.
 *
 * QUIRK (services-spec §3.2): where Python answers 500 on bad input (a checksum of the wrong
 * length or not a string, a PUT body that is not JSON, a GET body that is not an object, a
 * non-hex item in a list), this server answers 400 with an `ERROR:` body that says what was
 * wrong. Bodies over the limit get 413.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { DatabaseFile } from "../cache/database-file.ts";
import { PlainFloat, parsePlain, type PlainValue } from "../serialize/plain-json.ts";
import { dumpsPythonJson } from "../serialize/python-json.ts";
import {
  BUCKET_KINDS, CONFLICT_ANSWERS, DATABASE_CONTENT_TYPE, DATABASE_PROTOCOL, DATABASE_REQUEST_TYPES, DatabaseBody, DatabaseMessage,
  DatabasePath, DatabaseStatus, TYPES_WITHOUT_CHECKSUM, errorBody, expressionCelltypes, formatDatabaseResult, hashTypeConflictMessage,
  isValidHashTypeWord, parseDatabaseChecksum, settleHashType, type DatabaseRequestType,
} from "../wire/database.ts";
import { BodyTooLargeError, HttpError, readBody, type ServiceHandler, type ServiceRequest, type ServiceResponse } from "./http.ts";

/** Options of {@link createDatabaseHandler}. */
export interface DatabaseHandlerOptions {
  file: DatabaseFile;
  /** Without it every PUT answers 405. */
  writable: boolean;
  /** Larger request bodies are refused with 413 (default 64 MiB). */
  maxBodyBytes?: number;
}

/** The default request body limit. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

type JsonObject = { [key: string]: PlainValue };

const TEXT = { "content-type": DATABASE_CONTENT_TYPE };
const NOT_FOUND_BODY = errorBody(DatabaseMessage.unknownKey);
const decoder = new TextDecoder("utf-8", { fatal: true });

function fail(status: number, message: string): never {
  throw new HttpError(status, errorBody(message), DATABASE_CONTENT_TYPE);
}

function badRequest(message: string): never {
  fail(DatabaseStatus.badRequest, message);
}

function answer(status: number, body: string): ServiceResponse {
  return { status, headers: TEXT, body };
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof PlainFloat);
}

/** Python `isinstance(value, int)`: ints and bools. */
function isPythonInt(value: unknown): boolean {
  return typeof value === "bigint" || typeof value === "boolean" || (typeof value === "number" && Number.isInteger(value));
}

function has(request: JsonObject, key: string): boolean {
  return Object.hasOwn(request, key);
}

/**
 * A checksum field, or a 400. Non-hex answers Python's exact `ERROR: <message>`; a wrong length
 * or a non-string (Python: 500) names the problem.
 */
function checksumField(request: JsonObject, key: string, message: string): Checksum {
  if (!has(request, key)) badRequest(message);
  const parsed = parseDatabaseChecksum(request[key]);
  if (parsed.ok) return parsed.checksum;
  if (parsed.reason === "not-hex") badRequest(message);
  const what = parsed.reason === "wrong-length" ? "is not 64 hexadecimal characters" : "is not a string";
  badRequest(`${message}: "${key}" ${what}`);
}

/** A JSON object given as an object or as JSON text of one (metadata values, freshness tokens). */
function objectOrJsonText(value: unknown): JsonObject | null {
  if (isObject(value)) return value;
  if (typeof value !== "string") return null;
  try {
    const parsed = parsePlain(value);
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

async function readRequest(request: ServiceRequest, maxBodyBytes: number): Promise<JsonObject> {
  let bytes: Uint8Array;
  try {
    bytes = await readBody(request, maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      throw new HttpError(DatabaseStatus.tooLarge, errorBody(`Request body larger than the limit of ${maxBodyBytes} bytes`), DATABASE_CONTENT_TYPE);
    }
    throw error;
  }
  let text: string;
  let value: PlainValue;
  try {
    text = decoder.decode(bytes);
    value = JSON.parse(text) as PlainValue;
  } catch {
    badRequest(DatabaseMessage.malformed);
  }
  if (!isObject(value)) badRequest(DatabaseMessage.malformed);
  // Where numbers are stored or echoed, Python's int/float distinction matters: parse again
  // keeping it. The hot requests (transformation, reverse lookups) skip this.
  if (typeof value.type === "string" && TYPES_WITH_NUMBERS.has(value.type)) value = parsePlain(text) as JsonObject;
  return value;
}

/** Request types whose numbers are stored or compared, so `1.0` must stay a float. */
const TYPES_WITH_NUMBERS = new Set(["metadata", "buffer_info", "expression", "bucket_probe", "hash_type"]);

function requestType(request: JsonObject): DatabaseRequestType {
  const type = request.type;
  if (typeof type !== "string" || !(DATABASE_REQUEST_TYPES as readonly string[]).includes(type)) badRequest(DatabaseMessage.malformed);
  return type as DatabaseRequestType;
}

function stringFields(request: JsonObject, keys: string[], message: string): string[] | null {
  if (!keys.every((key) => has(request, key))) badRequest(message);
  const values = keys.map((key) => request[key]);
  return values.every((value) => typeof value === "string") ? (values as string[]) : null;
}

/** GET: the answer value, or null for 404 `Unknown key`. */
function get(file: DatabaseFile, type: DatabaseRequestType, checksum: Checksum, request: JsonObject): unknown {
  switch (type) {
    case "transformation":
      return file.getTransformation(checksum);
    case "rev_transformations": {
      const list = file.getRevTransformations(checksum);
      return list.length ? list : null;
    }
    case "metadata": {
      const text = file.getMetadataText(checksum);
      return text === null ? null : parsePlain(text);
    }
    case "irreproducible": {
      let result: Checksum | undefined;
      if (request.result !== undefined && request.result !== null) result = checksumField(request, "result", DatabaseMessage.malformedIrreproducibleGet);
      const rows = file.getIrreproducible(checksum, result);
      if (!rows.length) return null;
      return rows.map((row) => ({ checksum: row.checksum, result: row.result, metadata: parsePlain(row.metadataText) }));
    }
    case "buffer_info": {
      const text = file.getBufferInfoText(checksum);
      return text === null ? null : parsePlain(text);
    }
    case "semantic_to_syntactic":
    case "syntactic_to_semantic": {
      const message = type === "semantic_to_syntactic" ? DatabaseMessage.malformedSemanticToSyntactic : DatabaseMessage.malformedSyntacticToSemantic;
      const fields = stringFields(request, ["celltype", "subcelltype"], message);
      if (!fields) return null;
      const [celltype, subcelltype] = fields as [string, string];
      const list = type === "semantic_to_syntactic" ? file.getSemanticToSyntactic(checksum, celltype, subcelltype) : file.getSyntacticToSemantic(checksum, celltype, subcelltype);
      return list.length ? list : null;
    }
    case "expression": {
      const celltypes = expressionCelltypes(request);
      if (!celltypes.present || !has(request, "path")) badRequest(DatabaseMessage.malformedExpression);
      if (typeof celltypes.input !== "string" || typeof celltypes.output !== "string") return null;
      return file.getExpression(checksum, dumpsPythonJson(request.path), celltypes.input, celltypes.output);
    }
    case "hash_type":
      return file.getHashType(checksum);
    case "rev_expression": {
      const rows = file.getRevExpressions(checksum);
      if (!rows.length) return null;
      return rows.map((row) => ({ checksum: row.checksum, path: parsePlain(row.pathText), celltype: row.celltype, target_celltype: row.targetCelltype, result: row.result }));
    }
    default:
      badRequest(DatabaseMessage.unknownType);
  }
}

function getBucketProbe(file: DatabaseFile, request: JsonObject): unknown {
  const fields = stringFields(request, ["bucket_kind", "label"], DatabaseMessage.malformedBucketProbe);
  if (!fields) return null;
  const row = file.getBucketProbe(fields[0]!, fields[1]!);
  if (!row) return null;
  return { bucket_kind: row.bucketKind, label: row.label, bucket_checksum: row.bucketChecksum, captured_at: row.capturedAt, freshness_tokens: parsePlain(row.freshnessTokensText) };
}

/** The boolean fields of `SeamlessBufferInfo`; other `is_…` keys are stored unvalidated, as in Python. */
const BUFFER_INFO_BOOL_KEYS = new Set(["is_utf8", "is_json", "is_json_numeric_array", "is_json_numeric_scalar", "is_numpy", "is_seamless_mixed"]);

/** `SeamlessBufferInfo` validation (services-spec §3.3): `length` a non-negative int, the `is_*` fields bools; null passes. */
function validBufferInfo(value: JsonObject): boolean {
  for (const [key, item] of Object.entries(value)) {
    if (item === null) continue;
    if (key === "length") {
      if (!isPythonInt(item)) return false;
      if (typeof item !== "boolean" && Number(item) < 0) return false;
    } else if (BUFFER_INFO_BOOL_KEYS.has(key) && typeof item !== "boolean") return false;
  }
  return true;
}

function putMetadata(file: DatabaseFile, checksum: Checksum, request: JsonObject): void {
  const message = DatabaseMessage.malformedMetadataPut;
  if (!has(request, "value")) badRequest(message);
  const record = objectOrJsonText(request.value);
  if (!record) badRequest(message);
  const result = checksumField(request, "result", message);
  const fieldsOk =
    isPythonInt(record.schema_version) &&
    record.tf_checksum === checksum &&
    record.result_checksum === result &&
    (record.checksum_fields === undefined || record.checksum_fields === null ||
      (Array.isArray(record.checksum_fields) && record.checksum_fields.every((field) => typeof field === "string" && field.length > 0)));
  if (!fieldsOk) badRequest(message);
  const conflict = file.putMetadata(checksum, result, record);
  if (conflict) fail(CONFLICT_ANSWERS[conflict].status, CONFLICT_ANSWERS[conflict].message);
}

/**
 * PUT `expression` in either request shape ({@link expressionCelltypes}). DB @300b13c's shape
 * keeps its constraints (path JSON ≤ 100 characters; a non-empty path only on mixed, plain or
 * binary). The newer shape has no path limit and leaves path rules to the client (services-spec
 * §9). Both keep celltypes ≤ 20 characters (their columns) and are write-once.
 */
function putExpression(file: DatabaseFile, checksum: Checksum, request: JsonObject): void {
  const celltypes = expressionCelltypes(request);
  if (!celltypes.present || !has(request, "value") || !has(request, "path")) badRequest(DatabaseMessage.malformedExpression);
  const result = checksumField(request, "value", DatabaseMessage.malformedExpression);
  const { input, output } = celltypes;
  const path = request.path;
  const pathText = dumpsPythonJson(path);
  const pathLength = typeof path === "string" ? path.length : Array.isArray(path) ? path.length : isObject(path) ? Object.keys(path).length : null;
  const celltypesOk = typeof input === "string" && typeof output === "string" && input.length <= 20 && output.length <= 20;
  const olderRulesOk = celltypes.shape === "newer" ||
    (pathLength !== null && pathText.length <= 100 && (pathLength === 0 || ["mixed", "plain", "binary"].includes(input as string)));
  if (!celltypesOk || !olderRulesOk) badRequest(DatabaseMessage.expressionConstraint);
  const conflict = file.putExpression({ checksum, pathText, celltype: input, targetCelltype: output, result });
  if (conflict) fail(CONFLICT_ANSWERS[conflict].status, CONFLICT_ANSWERS[conflict].message);
}

/**
 * PUT `hash_type` (services-spec §9): a well-formed word (an integer, never a bool) or 400;
 * then the tighten-only rule: equal or looser keeps the stored word (200), tighter replaces it,
 * contradictory is a 409 and keeps it.
 */
function putHashType(file: DatabaseFile, checksum: Checksum, request: JsonObject): void {
  const word = request.value;
  if (!has(request, "value") || !isValidHashTypeWord(word)) badRequest(DatabaseMessage.malformedHashTypePut);
  const { stored, outcome } = file.putHashType(checksum, word, settleHashType);
  if (outcome === "conflict") fail(DatabaseStatus.conflict, hashTypeConflictMessage(checksum, stored!, word));
}

function putBucketProbe(file: DatabaseFile, request: JsonObject): void {
  const message = DatabaseMessage.malformedBucketProbePut;
  if (!["bucket_kind", "label", "bucket_checksum", "freshness_tokens", "captured_at"].every((key) => has(request, key))) badRequest(message);
  const bucketChecksum = checksumField(request, "bucket_checksum", message);
  const tokens = objectOrJsonText(request.freshness_tokens);
  const { bucket_kind: bucketKind, label, captured_at: capturedAt } = request;
  const ok =
    tokens !== null && typeof bucketKind === "string" && (BUCKET_KINDS as readonly string[]).includes(bucketKind) &&
    typeof label === "string" && label.length > 0 && typeof capturedAt === "string" && capturedAt.length > 0;
  if (!ok) badRequest(message);
  file.putBucketProbe({ bucketKind: bucketKind as string, label: label as string, bucketChecksum, capturedAt: capturedAt as string }, tokens!);
}

function put(file: DatabaseFile, type: DatabaseRequestType, checksum: Checksum, request: JsonObject): void {
  switch (type) {
    case "transformation":
      file.putTransformation(checksum, checksumField(request, "value", DatabaseMessage.malformedTransformationPut));
      return;
    case "metadata":
      return putMetadata(file, checksum, request);
    case "irreproducible": {
      const conflict = file.putIrreproducible(checksum, checksumField(request, "result", DatabaseMessage.malformedIrreproduciblePut));
      if (conflict) fail(CONFLICT_ANSWERS[conflict].status, CONFLICT_ANSWERS[conflict].message);
      return;
    }
    case "buffer_info": {
      const value = request.value;
      if (!isObject(value) || !validBufferInfo(value)) badRequest(DatabaseMessage.malformedBufferInfoPut);
      file.mergeBufferInfo(checksum, value);
      return;
    }
    case "semantic_to_syntactic": {
      const message = DatabaseMessage.malformedSemanticToSyntacticPut;
      const fields = stringFields(request, ["celltype", "subcelltype"], message);
      if (!Array.isArray(request.value) || !fields) badRequest(message);
      const items = request.value.map((item, index) => {
        const parsed = parseDatabaseChecksum(item);
        if (!parsed.ok) badRequest(`${message}: item ${index} of "value" is not a checksum`);
        return parsed.checksum;
      });
      file.putSemanticToSyntactic(checksum, fields[0]!, fields[1]!, items);
      return;
    }
    case "expression":
      return putExpression(file, checksum, request);
    case "hash_type":
      return putHashType(file, checksum, request);
    default:
      badRequest(DatabaseMessage.unknownType);
  }
}

/**
 * Creates the seamless-database handler.
 *
 * @param options the open file, writability and the body limit
 * @returns a handler; errors are answers, thrown as {@link HttpError}
 * @example
 * ```ts
 * const handler = createDatabaseHandler({ file: DatabaseFile.openForServer(path, true), writable: true });
 * const response = await handler(makeServiceRequest("GET", "/", '{"type":"protocol"}'));
 * // response.body === '["seamless", "database", "2.2"]'
 * ```
 */
export function createDatabaseHandler(options: DatabaseHandlerOptions): ServiceHandler {
  const { file, writable } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  return async (request) => {
    try {
      return await handle(request);
    } catch (error) {
      // JSON nested beyond the stack (100k levels) is malformed input, not a server failure.
      if (error instanceof RangeError) badRequest(DatabaseMessage.malformed);
      throw error;
    }
  };

  async function handle(request: ServiceRequest): Promise<ServiceResponse> {
    const method = request.method;
    const isGet = method === "GET" || method === "HEAD";
    if (isGet && request.path === DatabasePath.healthcheck) return answer(DatabaseStatus.ok, DatabaseBody.healthy);
    if (!isGet && method !== "PUT") return answer(DatabaseStatus.methodNotAllowed, DatabaseBody.methodNotAllowed);
    if (!isGet && !writable) fail(DatabaseStatus.methodNotAllowed, DatabaseMessage.readOnly);
    const body = await readRequest(request, maxBodyBytes);
    const type = requestType(body);
    if (isGet) {
      if (!TYPES_WITHOUT_CHECKSUM.includes(type) && !has(body, "checksum")) badRequest(DatabaseMessage.malformed);
      let value: unknown;
      if (type === "protocol") value = [...DATABASE_PROTOCOL];
      else if (type === "bucket_probe") value = getBucketProbe(file, body);
      else value = get(file, type, checksumField(body, "checksum", DatabaseMessage.malformed), body);
      if (value === null || value === undefined) return answer(DatabaseStatus.notFound, NOT_FOUND_BODY);
      return answer(DatabaseStatus.ok, formatDatabaseResult(value));
    }
    const checksum = type === "bucket_probe" ? null : checksumField(body, "checksum", DatabaseMessage.malformed);
    await file.writeSoon(() => (checksum === null ? putBucketProbe(file, body) : put(file, type, checksum, body)));
    return answer(DatabaseStatus.ok, DatabaseBody.stored);
  }
}
