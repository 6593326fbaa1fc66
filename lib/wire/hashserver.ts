/**
 * The hashserver wire protocol (services-spec §2), shared by the client
 * (`buffers/http-store.ts`) and the server (`servers/hashserver.ts`): routes, status meanings,
 * checksum validation and error bodies. Nobody else spells these.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { isSuccess } from "./http-status.ts";

/** Request paths. `/has` and `/buffer-length` are GETs that carry a JSON list body. */
export const HashserverPath = {
  healthcheck: "/healthcheck",
  has: "/has",
  bufferLength: "/buffer-length",
  buffer: (checksum: Checksum) => `/${checksum}`,
  promise: (checksum: Checksum) => `/promise/${checksum}`,
} as const;

/** Status codes and what they mean on this protocol. */
export const HashserverStatus = {
  ok: 200,
  /** PUT: the buffer was already stored. */
  alreadyPresent: 201,
  /** PUT: an upload of the same checksum is in flight; PUT /promise success. */
  inFlight: 202,
  badRequest: 400,
  notFound: 404,
  methodNotAllowed: 405,
  /** PUT: the server's disk is full (or over quota); the body says so. Nothing was stored. */
  insufficientStorage: 507,
  /** A `/has` or `/buffer-length` body over {@link MAX_CHECKSUM_LIST_BODY_BYTES}. */
  payloadTooLarge: 413,
  /** The server is out of a resource (file descriptors): try again. */
  unavailable: 503,
  /** PUT: the bytes could not be written for another reason than a full disk; the body says why. */
  writeFailed: 500,
} as const;

/**
 * The largest `/has` or `/buffer-length` body a server reads (~250,000 checksums, 25 times a
 * client's batch of {@link HAS_BATCH_SIZE}); QUIRK: the Python server reads any size.
 */
export const MAX_CHECKSUM_LIST_BODY_BYTES = 16 * 1024 * 1024;

/** Any 2xx answer to a PUT means the buffer is (or will be) stored (services-spec §6.2). */
export function isPutSuccess(status: number): boolean {
  return isSuccess(status);
}

/** How many checksums one `/has` request carries (services-spec §6.2). */
export const HAS_BATCH_SIZE = 10_000;

/** Body texts fixed by the protocol. */
export const HashserverBody = {
  healthy: "OK",
  stored: "OK",
  notFound: "Not found",
  incorrectChecksum: "Incorrect checksum",
  /** FastAPI's JSON answers for a path without a route and a method without one. */
  noRoute: JSON.stringify({ detail: "Not Found" }),
  methodNotAllowed: JSON.stringify({ detail: "Method Not Allowed" }),
} as const;

/** The path segment of `PUT /promise/{checksum}`. */
const PROMISE_SEGMENT = "promise";

/** The names of the fixed routes: a PUT never stores a buffer under them. */
const FIXED_ROUTE_NAMES: readonly string[] = [HashserverPath.has, HashserverPath.bufferLength, HashserverPath.healthcheck].map((path) => path.slice(1));

/** The non-empty segments of a request path, as the server's router matches them. */
function pathSegments(path: string): string[] {
  return path.split("/").filter(Boolean);
}

/**
 * What a GET path other than the fixed routes names: the checksum text of `GET /{checksum}`
 * (still to be validated), or null when no route matches (404).
 *
 * @param path the request path, without the query string
 * @returns the checksum text, or null
 * @example
 * ```ts
 * assertEquals(matchBufferGet("/abc"), "abc");
 * assertEquals(matchBufferGet("/a/b"), null);
 * ```
 */
export function matchBufferGet(path: string): string | null {
  const segments = pathSegments(path);
  return segments.length === 1 ? segments[0]! : null;
}

/**
 * What a PUT path names: a buffer (`PUT /{checksum}`), a promise (`PUT /promise/{checksum}`),
 * with the checksum text still to be validated, or null when no PUT route matches (405).
 *
 * @param path the request path, without the query string
 * @returns the route and its checksum text, or null
 * @example
 * ```ts
 * assertEquals(matchHashserverPut("/promise/abc"), { kind: "promise", checksumText: "abc" });
 * assertEquals(matchHashserverPut("/has"), null);
 * ```
 */
export function matchHashserverPut(path: string): { kind: "buffer" | "promise"; checksumText: string } | null {
  const segments = pathSegments(path);
  if (segments.length === 2 && segments[0] === PROMISE_SEGMENT) return { kind: "promise", checksumText: segments[1]! };
  if (segments.length === 1 && !FIXED_ROUTE_NAMES.includes(segments[0]!)) return { kind: "buffer", checksumText: segments[0]! };
  return null;
}

/** The promise lifetime, seconds. */
export const PROMISE_TTL_SECONDS = 600;

/** The JSON answer to `PUT /promise/{checksum}`, as FastAPI writes it (the lifetime a float). */
export function encodePromiseAnswer(checksum: Checksum): string {
  return `{"checksum":"${checksum}","expires_in":${PROMISE_TTL_SECONDS}.0}`;
}

/** A parsed checksum, or the pydantic-style validation message the real server gives. */
export type ChecksumParse = { ok: true; checksum: Checksum } | { ok: false; message: string };

/** Validates a checksum path parameter or list item as the hashserver does (services-spec §2.3). */
export function parseWireChecksum(text: string): ChecksumParse {
  if (text.length !== 64) return { ok: false, message: "Value error, Wrong length" };
  const bad = text.search(/[^0-9a-fA-F]/);
  if (bad >= 0) return { ok: false, message: `Value error, non-hexadecimal number found in fromhex() arg at position ${bad}` };
  return { ok: true, checksum: text.toLowerCase() };
}

/** The 400 JSON body for a validation failure (FastAPI's compact JSON). */
export function invalidDataBody(type: string, loc: (string | number)[], msg: string, input: unknown): string {
  return JSON.stringify({ message: "Invalid data", exception: { type, loc, msg, input } });
}

/** The 400 JSON body for a server-side RuntimeError such as file corruption. */
export function runtimeErrorBody(message: string): string {
  return JSON.stringify({ message });
}

/** The message for a stored file that fails verification. */
export function corruptionMessage(path: string, encoding: string): string {
  return `File corruption: file at path ${path} does not have the correct ${encoding} checksum.`;
}

/** Encodes a `/has` or `/buffer-length` request body. */
export function encodeChecksumList(checksums: Checksum[]): string {
  return JSON.stringify(checksums);
}

/** Decodes a `/has` answer: booleans (current servers) or lengths (older ones, where 0 = absent). */
export function decodeHasAnswer(text: string, expected: number): boolean[] {
  const value = JSON.parse(text) as unknown;
  if (!Array.isArray(value) || value.length !== expected) {
    throw new Error(`Malformed /has answer: expected a list of ${expected} items`);
  }
  return value.map((item) => item === true || (typeof item === "number" && item > 0));
}

/** Decodes a `/buffer-length` answer: an int per checksum (0 = absent or empty), `true` when promised. */
export function decodeBufferLengthAnswer(text: string, expected: number): (number | true)[] {
  const value = JSON.parse(text) as unknown;
  if (!Array.isArray(value) || value.length !== expected) {
    throw new Error(`Malformed /buffer-length answer: expected a list of ${expected} items`);
  }
  return value as (number | true)[];
}
