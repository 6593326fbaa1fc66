import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "./store.ts";

/**
 * Several buffer stores as one (services-spec §6.2 read and write paths): reads ask the read
 * stores in order (read folders before servers) and the first hit wins; writes go to every
 * write store. The buffer-side twin of `FanOutResultCache`.
 */
export class FanOutBufferStore implements BufferStore {
  readonly location: string;

  constructor(readonly readers: BufferStore[], readonly writers: BufferStore[]) {
    this.location = [...new Set([...readers, ...writers].map((store) => store.location))].join(", ");
  }

  /** Asks each reader about what the previous ones did not find. */
  async #ask<T>(checksums: Checksum[], ask: (store: BufferStore, subset: Checksum[]) => Promise<T[]>, found: (value: T) => boolean, none: T): Promise<T[]> {
    const result = checksums.map(() => none);
    let missing = checksums.map((_, index) => index);
    for (const store of this.readers) {
      if (missing.length === 0) break;
      const answers = await ask(store, missing.map((index) => checksums[index]!));
      missing = missing.filter((index, k) => {
        if (!found(answers[k]!)) return true;
        result[index] = answers[k]!;
        return false;
      });
    }
    return result;
  }

  has(checksums: Checksum[]): Promise<boolean[]> {
    return this.#ask(checksums, (store, subset) => store.has(subset), (value) => value, false);
  }

  lengths(checksums: Checksum[]): Promise<(number | null)[]> {
    return this.#ask<number | null>(checksums, (store, subset) => store.lengths(subset), (value) => value !== null, null);
  }

  async get(checksum: Checksum): Promise<Uint8Array | null> {
    for (const store of this.readers) {
      const buffer = await store.get(checksum);
      if (buffer) return buffer;
    }
    return null;
  }

  async getToFile(checksum: Checksum, destination: string, onProgress?: (bytes: number) => void): Promise<boolean> {
    for (const store of this.readers) if (await store.getToFile(checksum, destination, onProgress)) return true;
    return false;
  }

  async put(checksum: Checksum, bytes: Uint8Array): Promise<void> {
    for (const store of this.writers) await store.put(checksum, bytes);
  }

  async putFile(checksum: Checksum, path: string, onProgress?: (bytes: number) => void): Promise<void> {
    for (const [i, store] of this.writers.entries()) await store.putFile(checksum, path, i === 0 ? onProgress : undefined);
  }

  close(): void {
    for (const store of new Set([...this.readers, ...this.writers])) store.close();
  }
}
