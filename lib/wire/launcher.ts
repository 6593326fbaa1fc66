/**
 * The remote-http-launcher file protocol (services-spec §5.2): the server JSON a launched
 * service's status file becomes, the client JSON a client reuses, their names and checks. Our
 * launcher and the Python one find each other's servers through these files.
 * @module
 */

/** Every launched service answers this path with 2xx (services-spec §5.3). */
export const HEALTHCHECK_PATH = "/healthcheck";

/** Keys and work directories the launcher accepts (services-spec §8, `FILENAME_RE`, `DIRNAME_RE`). */
export const LAUNCH_KEY_PATTERN = /^[A-Za-z0-9._-]+$/;
export const LAUNCH_WORKDIR_PATTERN = /^[A-Za-z0-9@_./~-]+$/;

/** Mode of every launcher JSON file (services-spec §5.2). */
export const LAUNCHER_FILE_MODE = 0o600;

/** The server JSON (the status file of services-spec §1, plus the launcher's fields). */
export interface ServerRecord {
  workdir: string;
  log: string;
  command: string;
  uid: number;
  pid: number;
  status: "starting" | "running" | "failed" | string;
  network_interface?: string;
  parameters?: Record<string, unknown>;
  meta?: Record<string, unknown>;
  port?: number;
  [key: string]: unknown;
}

/** The client JSON: where to reach a launched service. */
export interface ClientRecord {
  hostname: string;
  port: number;
  ssh_hostname?: string;
  "tunneled-host"?: string;
  "tunneled-port"?: number;
  "tunneled-network-interface"?: string;
  status?: string;
  [key: string]: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === "object" && !Array.isArray(value);
const isPort = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;

/**
 * Checks a `running` server record as the launcher does (services-spec §5.2 step 2).
 *
 * @returns an error text, or null when the record is usable
 */
export function checkRunningRecord(record: Record<string, unknown>): string | null {
  if (!isPort(record.port)) return "port is not an integer in 1..65535";
  if (typeof record.command !== "string" || !record.command) return "command is not a non-empty string";
  if (!Number.isInteger(record.uid) || !Number.isInteger(record.pid)) return "uid or pid is not an integer";
  if (record.parameters !== undefined && !isObject(record.parameters)) return "parameters is not a mapping";
  return null;
}

/** Parses a server JSON; null when it is not a JSON object. */
export function decodeServerRecord(text: string): ServerRecord | null {
  try {
    const value = JSON.parse(text);
    return isObject(value) ? (value as ServerRecord) : null;
  } catch {
    return null;
  }
}

/** Parses a client JSON; null when it is not an object with a hostname and port. */
export function decodeClientRecord(text: string): ClientRecord | null {
  try {
    const value = JSON.parse(text);
    if (!isObject(value)) return null;
    if (value.status === "stale") return value as ClientRecord;
    return typeof value.hostname === "string" && isPort(value.port) ? (value as ClientRecord) : null;
  } catch {
    return null;
  }
}

/** `http://hostname:port` of a client record (services-spec §5.2 step 6). */
export function urlOfClientRecord(record: ClientRecord): string {
  return `http://${record.hostname}:${record.port}`;
}
