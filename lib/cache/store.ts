import type { Checksum } from "../checksum/checksum.ts";

/** One irreproducible entry of a transformation (services-spec §3.4): `metadata` is the moved record, or `""`. */
export interface IrreproducibleEntry {
  checksum: Checksum;
  result: Checksum;
  metadata: unknown;
}

/**
 * The transformation result cache (the bazel-remote `Proxy` idea, like {@link BufferStore} for
 * buffers): the embedded `seamless.db`, a remote `seamless database`, or a fan-out of several.
 * Absent keys are `null` (a 404 from a server), never an error.
 */
export interface ResultCache {
  /** Where the results live, for messages: a file path or a URL. */
  readonly location: string;
  /** The cached result checksum of a transformation, or null. */
  getResult(tf: Checksum): Promise<Checksum | null>;
  /** Records (overwrites) the result of a transformation (PUT `transformation`). */
  setResult(tf: Checksum, result: Checksum): Promise<void>;
  /** Reverse lookup: transformations recorded as giving `result` (empty when none). */
  getTransformationsOf(result: Checksum): Promise<Checksum[]>;
  /** The stored execution record of a transformation, or null. */
  getExecutionRecord(tf: Checksum): Promise<Record<string, unknown> | null>;
  /**
   * Stores the write-once execution record together with the result (PUT `metadata`,
   * services-spec §3.4), creating the result entry when missing.
   * @returns false when refused as a conflict (another record, another result, irreproducible)
   */
  setExecutionRecord(tf: Checksum, result: Checksum, record: Record<string, unknown>): Promise<boolean>;
  /** Irreproducible entries of a transformation, optionally only those with `result` (empty when none). */
  getIrreproducible(tf: Checksum, result?: Checksum): Promise<IrreproducibleEntry[]>;
  /**
   * Moves the result entry into the irreproducible table (PUT `irreproducible`).
   * @returns false when refused as a conflict (the entry holds another result)
   */
  markIrreproducible(tf: Checksum, result: Checksum): Promise<boolean>;
  /** Releases files or sockets. */
  close(): void;
}
