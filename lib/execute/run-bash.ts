/**
 * The normal `seamless run` path after preparation (cli-spec §3.14 "Normal run", §3.17,
 * §3.18): store inputs, hold futures, compute, write the output.
 * @module
 */
import { join } from "node:path";
import type { BufferStore } from "../buffers/store.ts";
import type { SeamlessConfig } from "../config/mod.ts";
// Not from delegation/mod.ts: that also loads describe-clients, which a run does not need.
import { openBufferStoreFor } from "../delegation/open-buffer-store.ts";
import { openResultCacheFor } from "../delegation/open-result-cache.ts";
import { findMissing, sourceLength, storeBuffers } from "../buffers/transfer.ts";
import { InterruptedError, ResultBufferGoneError } from "../errors.ts";
import { formatSize } from "../units/human-size.ts";
import type { PreparedBash } from "../transformation/prepare-bash.ts";
import { computeTransformation, lockDirOf, type ComputeOptions } from "./compute.ts";
import { FutureFiles, futureRegistryOf, reapAbandonedFutures } from "./futures.ts";
import type { JobserverClient } from "../clients/jobserver.ts";
import { openCapturedStdout, writeResultTargets } from "./results.ts";
import type { Log } from "../log.ts";

/** Options of {@link runPrepared}. */
export interface RunOptions {
  /** The calling command's voice. */
  log: Log;
  config: SeamlessConfig;
  workdir: string;
  scratch: boolean;
  download: boolean;
  /** Where the command's output goes (the CLI passes fd writers). */
  writeStdout: (data: string | Uint8Array) => void;
  writeStderr: (text: string) => void;
  /** Cancels the run: futures are removed at once, the command is killed, nothing is cached. */
  signal?: AbortSignal;
  /** Kills the command after this long. */
  timeoutMs?: number;
  /** Delegation level 3: run on this jobserver instead of locally. */
  jobserver?: JobserverClient;
  /** Record mode of the configuration (sent to the jobserver). */
  record?: boolean;
  /** Told how the result came about (the run log). */
  onComputed?: ComputeOptions["onComputed"];
  /** Execute even on a cache hit. */
  force?: boolean;
  /**
   * Stdout capture only: write the command's stdout through `writeStdout` exactly as it comes
   * while it runs locally (the CLI asks for this when its stdout is a terminal), instead of the
   * formatted result at the end. A cache hit, a joined run or a jobserver run print at the end.
   * A function is asked only when the command executes here: a cache hit then never pays for
   * the terminal check (loading node:tty and the stream modules, 3-5 ms).
   */
  liveStdout?: boolean | (() => boolean);
}

/** Stores every buffer the transformation needs (inputs, code, variables, the transformation). */
export async function storePreparedBuffers(prepared: PreparedBash, config: SeamlessConfig, log: Log): Promise<BufferStore> {
  const store = await openBufferStoreFor(config, { log });
  const missing = await findMissing(store, { buffers: prepared.buffers });
  const inputs = new Set(prepared.inputChecksums);
  const missingInputs = missing.filter((s) => inputs.has(s.checksum) || "path" in s);
  if (missingInputs.length > 0) {
    const total = missingInputs.reduce((sum, s) => sum + sourceLength(s), 0);
    log.message(config.clients.buffer[0]?.kind === "folder" ? 1 : 0, `Upload ${missingInputs.length} files, total ${formatSize(total)}`);
  } else log.message(1, "Upload no files");
  await storeBuffers(store, missing);
  return store;
}

/**
 * Runs a prepared transformation and writes its output.
 *
 * @returns the exit code
 */
export async function runPrepared(prepared: PreparedBash, options: RunOptions): Promise<number> {
  const { log, signal } = options;
  if (signal?.aborted) throw new InterruptedError("Canceled");
  // Both servers are found (or launched) at the same time.
  const opening = openResultCacheFor(options.config, { log });
  opening.catch(() => {}); // awaited below; a store error first must not leave it unhandled
  // The result is looked up while the inputs are stored: for a remote cache the two round trips
  // overlap. Level 3 (a jobserver) asks its own way; --force does not look.
  const cachedResult = options.jobserver || options.force ? undefined : opening.then((cache) => cache.getResult(prepared.tfChecksum));
  cachedResult?.catch(() => {});
  let store: BufferStore;
  try {
    store = await storePreparedBuffers(prepared, options.config, log);
  } catch (error) {
    (await opening.catch(() => null))?.close();
    throw error;
  }
  const cacheDir = options.config.cacheDir;
  let cache: Awaited<typeof opening>;
  try {
    cache = await opening;
  } catch (error) {
    store.close();
    throw error;
  }
  reapAbandonedFutures(futureRegistryOf(cacheDir));
  const futures = new FutureFiles(futureRegistryOf(cacheDir), signal);
  try {
    if (prepared.resultTargets) {
      futures.start(prepared.resultTargets.map(([server, local]) => ({
        path: join(options.workdir, `${local ?? server}.FUTURE`),
        content: `${prepared.tfChecksum}.${server}\n`,
      })));
    }
    const stdoutLines: string[] = [];
    let live: boolean | undefined;
    const isLive = () => (live ??= typeof options.liveStdout === "function" ? options.liveStdout() : options.liveStdout === true);
    if (signal?.aborted) throw new InterruptedError("Canceled");
    const computed = options.jobserver
      ? await (await import("./compute-remote.ts")).computeOnJobserver(prepared.dict, prepared.tfChecksum, { jobserver: options.jobserver, store, cache, scratch: options.scratch, record: options.record === true, signal, log }).then((remote) => {
          options.onComputed?.(remote);
          return remote;
        })
      : await computeTransformation(prepared.dict, prepared.tfChecksum, {
          signal,
          timeoutMs: options.timeoutMs,
          store,
          cache,
          lockDir: lockDirOf(cacheDir),
          scratch: options.scratch,
          onStdoutLine: (line) => (prepared.resultTargets ? options.writeStdout(`${line}\n`) : stdoutLines.push(line)),
          onStderr: log.verbosity >= 1 ? options.writeStderr : undefined,
          // A getter: read only when the command executes here (see RunOptions.liveStdout).
          get onResultBytes() {
            return !prepared.resultTargets && isLive() ? options.writeStdout : undefined;
          },
          log,
          onComputed: options.onComputed,
          force: options.force,
          cachedResult,
        });
    log.message(2, `Result checksum: ${computed.checksum}${computed.fromCache ? " (from cache)" : ""}`);
    if (!prepared.resultTargets) {
      // Shown live already, byte for byte, when it executed here: not opened (nor verified) again.
      const shownLive = !options.jobserver && computed.how === "executed" && isLive();
      const captured = shownLive ? null : await openCapturedStdout(store, computed.checksum, computed.buffer);
      if (!shownLive && !captured) throw new ResultBufferGoneError(`Cannot download result ${computed.checksum}, and no result targets`);
      if (stdoutLines.length) options.writeStdout(`${stdoutLines.join("\n")}\n`);
      captured?.writeTo(options.writeStdout);
      return 0;
    }
    const resultBuffer = computed.buffer ?? (await store.get(computed.checksum));
    if (!resultBuffer) {
      if (options.scratch) return 0;
      throw new ResultBufferGoneError(`Cannot download result ${computed.checksum}. Cannot write checksum for one or more result targets`);
    }
    await writeResultTargets(resultBuffer, prepared.resultTargets, {
      store,
      workdir: options.workdir,
      download: options.download,
      scratch: options.scratch,
      log,
    });
    return 0;
  } finally {
    futures.release();
    cache.close();
    store.close();
  }
}
