/**
 * Extern clients from the environment, without any file: `SEAMLESS_DATABASE=URL` (ours, a
 * read/write database) and `SEAMLESS_REMOTE_CLIENTS`, the JSON of services-spec §6.5
 * (`{"database": [{"url", "readonly"}], "buffer": [{"url" | "directory", "readonly"}]}`,
 * `readonly` true when missing).
 * @module
 */
import { SeamlessError } from "../errors.ts";

/** One extern database or buffer server. */
export interface ExternClient {
  url?: string;
  directory?: string;
  readonly: boolean;
}

/** The extern clients the environment names. */
export interface ExternClients {
  database: ExternClient[];
  buffer: ExternClient[];
}

function entriesOf(value: unknown, kind: string): ExternClient[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new SeamlessError(`SEAMLESS_REMOTE_CLIENTS: "${kind}" must be a list`);
  return value.map((entry, index) => {
    if (!entry || typeof entry !== "object") throw new SeamlessError(`SEAMLESS_REMOTE_CLIENTS: ${kind} entry ${index} must be an object`);
    const { url, directory, readonly } = entry as Record<string, unknown>;
    if (url !== undefined && url !== null && typeof url !== "string") throw new SeamlessError(`SEAMLESS_REMOTE_CLIENTS: ${kind} entry ${index}: "url" must be a string`);
    return {
      url: typeof url === "string" && url ? url : undefined,
      directory: typeof directory === "string" && directory ? directory : undefined,
      readonly: readonly === undefined || readonly === null ? true : Boolean(readonly),
    };
  });
}

/**
 * Reads the extern clients from the environment.
 *
 * @throws {SeamlessError} when `SEAMLESS_REMOTE_CLIENTS` is not the JSON of services-spec §6.5
 */
export function externClientsOf(env: Record<string, string | undefined>): ExternClients {
  const clients: ExternClients = { database: [], buffer: [] };
  const database = env.SEAMLESS_DATABASE?.trim();
  if (database) clients.database.push({ url: database, readonly: false });
  const text = env.SEAMLESS_REMOTE_CLIENTS?.trim();
  if (text) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new SeamlessError(`SEAMLESS_REMOTE_CLIENTS is not valid JSON: ${(error as Error).message}`);
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) throw new SeamlessError("SEAMLESS_REMOTE_CLIENTS must be a JSON object");
    const { database: dbEntries, buffer } = value as Record<string, unknown>;
    clients.database.push(...entriesOf(dbEntries, "database").filter((entry) => entry.url));
    clients.buffer.push(...entriesOf(buffer, "buffer"));
  }
  return clients;
}

/** The hashserver URL the remote-client JSON names: the first writable one, else the first. */
export function bufferServerUrlOf(env: Record<string, string | undefined>): string | undefined {
  if (!env.SEAMLESS_REMOTE_CLIENTS?.trim()) return undefined;
  const servers = externClientsOf(env).buffer.filter((entry) => entry.url);
  return (servers.find((entry) => !entry.readonly) ?? servers[0])?.url;
}
