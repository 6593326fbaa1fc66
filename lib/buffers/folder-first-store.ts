/**
 * A launched hashserver on this machine, read through its directory (services-spec §6.5: a
 * local launched buffer client is also a read folder, so reads bypass HTTP); writes and the
 * buffers the folder lacks (promised, in flight) go to the server.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferDir } from "./bufferdir.ts";
import type { BufferStore } from "./store.ts";

/** Reads from a folder first, then from the server; writes to the server. */
export class FolderFirstStore implements BufferStore {
  readonly location: string;

  /**
   * @param folder the server's own buffer directory, read directly
   * @param server the server, for writes and for what the folder lacks
   */
  constructor(readonly folder: BufferDir, readonly server: BufferStore) {
    this.location = server.location;
  }

  async has(checksums: Checksum[]): Promise<boolean[]> {
    const local = await this.folder.has(checksums);
    const missing = checksums.filter((_, i) => !local[i]);
    if (missing.length === 0) return local;
    const remote = await this.server.has(missing);
    let next = 0;
    return local.map((present) => present || remote[next++]!);
  }

  async lengths(checksums: Checksum[]): Promise<(number | null)[]> {
    const local = await this.folder.lengths(checksums);
    const missing = checksums.filter((_, i) => local[i] === null);
    if (missing.length === 0) return local;
    const remote = await this.server.lengths(missing);
    let next = 0;
    return local.map((length) => length ?? remote[next++] ?? null);
  }

  async get(checksum: Checksum): Promise<Uint8Array | null> {
    return (await this.folder.get(checksum)) ?? this.server.get(checksum);
  }

  async getToFile(checksum: Checksum, destination: string, onProgress?: (bytes: number) => void): Promise<boolean> {
    return (await this.folder.getToFile(checksum, destination, onProgress)) || this.server.getToFile(checksum, destination, onProgress);
  }

  put(checksum: Checksum, bytes: Uint8Array): Promise<void> {
    return this.server.put(checksum, bytes);
  }

  putFile(checksum: Checksum, path: string, onProgress?: (bytes: number) => void): Promise<void> {
    return this.server.putFile(checksum, path, onProgress);
  }

  close(): void {
    this.folder.close();
    this.server.close();
  }
}
