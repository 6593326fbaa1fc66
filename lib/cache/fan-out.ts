import type { Checksum } from "../checksum/checksum.ts";
import type { IrreproducibleEntry, ResultCache } from "./store.ts";

/**
 * Several result caches as one (services-spec §6.3 "Fan-out"): reads ask the read caches in
 * order and the first answer wins; writes go to every write cache.
 */
export class FanOutResultCache implements ResultCache {
  readonly location: string;

  constructor(readonly readers: ResultCache[], readonly writers: ResultCache[]) {
    this.location = [...new Set([...readers, ...writers].map((cache) => cache.location))].join(", ");
  }

  async #first<T>(read: (cache: ResultCache) => Promise<T>, found: (value: T) => boolean, none: T): Promise<T> {
    for (const cache of this.readers) {
      const value = await read(cache);
      if (found(value)) return value;
    }
    return none;
  }

  getResult(tf: Checksum): Promise<Checksum | null> {
    return this.#first((cache) => cache.getResult(tf), (value) => value !== null, null);
  }

  async setResult(tf: Checksum, result: Checksum): Promise<void> {
    await Promise.all(this.writers.map((cache) => cache.setResult(tf, result)));
  }

  getTransformationsOf(result: Checksum): Promise<Checksum[]> {
    return this.#first((cache) => cache.getTransformationsOf(result), (value) => value.length > 0, []);
  }

  getExecutionRecord(tf: Checksum): Promise<Record<string, unknown> | null> {
    return this.#first((cache) => cache.getExecutionRecord(tf), (value) => value !== null, null);
  }

  async setExecutionRecord(tf: Checksum, result: Checksum, record: Record<string, unknown>): Promise<boolean> {
    return (await Promise.all(this.writers.map((cache) => cache.setExecutionRecord(tf, result, record)))).every(Boolean);
  }

  getIrreproducible(tf: Checksum, result?: Checksum): Promise<IrreproducibleEntry[]> {
    return this.#first((cache) => cache.getIrreproducible(tf, result), (value) => value.length > 0, []);
  }

  async markIrreproducible(tf: Checksum, result: Checksum): Promise<boolean> {
    return (await Promise.all(this.writers.map((cache) => cache.markIrreproducible(tf, result)))).every(Boolean);
  }

  close(): void {
    for (const cache of new Set([...this.readers, ...this.writers])) cache.close();
  }
}
