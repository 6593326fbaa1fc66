/**
 * Record mode of a jobserver (services-spec §4.4 step 3, §4.5 "Record mode adds"): the bucket
 * preconditions checked before a transformation runs, and what a record-mode answer adds: the
 * probe context, the compilation context, the job validation and the serving process's facts.
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { os } from "../disk/lazy-node.ts";
import type { BufferStore } from "../buffers/store.ts";
import type { Checksum } from "../checksum/checksum.ts";
import { computeChecksum } from "../checksum/sha256.ts";
import { parsePlain, type PlainValue } from "../serialize/plain-json.ts";
import { dumpsPythonJson } from "../serialize/python-json.ts";
import { checkRecordBuckets, environmentBucketOf, probePlanOf, RecordBucketError, type BucketProbeLookup, type ProbeContext } from "./bucket-probes.ts";
import { processCreateTimeEpoch, pythonEnvironmentOf, readBootId } from "./host-facts.ts";

/** Options of {@link createJobserverRecordMode}. */
export interface JobserverRecordModeOptions {
  /** The database's `bucket_probe` lookup; null when the jobserver has no database. */
  lookup: BucketProbeLookup | null;
  /** Where a transformation's `__env__` buffer is found. */
  store: BufferStore;
  /** `seamless-run-transformation` here (its Python environment labels the environment bucket), or null. */
  pythonRunner: () => string | null;
  hostname?: string;
}

/** The facts of the serving process a record-mode answer's `record_runtime` adds. */
export interface RecordProcessFacts {
  hostname: string;
  pid: number;
  process_started_at: string;
  process_create_time_epoch: number | null;
}

/** What a jobserver in record mode does beyond running. */
export interface JobserverRecordMode {
  /**
   * Checks the bucket preconditions of a transformation.
   *
   * @throws {RecordBucketError} when the database lacks a fresh probe (or there is no database)
   */
  checkBuckets(dict: Record<string, PlainValue>, tfDunder: Record<string, PlainValue>): Promise<ProbeContext>;
  /** The `job_validation` of an answer. */
  jobValidation(dict: Record<string, PlainValue>, tfDunder: Record<string, PlainValue>): Record<string, PlainValue>;
  /** The serving process's facts for `record_runtime`. */
  processFacts(processStartedAt: string): RecordProcessFacts;
}

/** The `__env__` of a transformation as a dict: the dict's own first (as Python), `{}` when unresolvable. */
async function environmentOf(dict: Record<string, PlainValue>, tfDunder: Record<string, PlainValue>, store: BufferStore): Promise<Record<string, unknown>> {
  const entry = dict.__env__ ?? tfDunder.__env__;
  if (entry && typeof entry === "object" && !Array.isArray(entry)) return entry as Record<string, unknown>;
  if (typeof entry !== "string") return {};
  try {
    const bytes = await store.get(entry.toLowerCase() as Checksum);
    const value = bytes ? parsePlain(Buffer.from(bytes).toString("utf8")) : null;
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `_stable_digest` of the Python tools: SHA-256 of `json.dumps(value, sort_keys=True)`. */
function stableDigest(value: unknown): string {
  return computeChecksum(Buffer.from(dumpsPythonJson(value, { sortKeys: true })));
}

/**
 * Creates the record mode of a jobserver.
 *
 * @param options the database lookup, the buffer store, the Python runner
 * @returns the checks and additions
 * @example
 * ```ts
 * const record = createJobserverRecordMode({ lookup: null, store, pythonRunner: () => null });
 * await record.checkBuckets(dict, {}); // throws: Record mode requires an active database read server
 * ```
 */
export function createJobserverRecordMode(options: JobserverRecordModeOptions): JobserverRecordMode {
  const hostname = options.hostname ?? os().hostname();
  return {
    async checkBuckets(dict, tfDunder) {
      if (!options.lookup) throw new RecordBucketError("Record mode requires an active database read server");
      const environment = await environmentOf(dict, tfDunder, options.store);
      const runner = options.pythonRunner();
      // The mtimes are read at every check: a changed environment makes its probe stale.
      const bucket = environmentBucketOf(environment, runner ? pythonEnvironmentOf(runner) : null, runner ? `"${runner}" names no interpreter on its #! line` : undefined);
      return checkRecordBuckets(probePlanOf(hostname, readBootId(), bucket), options.lookup);
    },

    jobValidation(dict, tfDunder) {
      // The checks that need no probe payloads: Python adds more from the payloads and its own
      // process (README compatibility notes). Violations are only ever found for compiled
      // transformations, which these workers do not run.
      const compiled = Boolean(dict.__compiled__ || tfDunder.__compiled__);
      const cwd = process.cwd();
      const cwdExists = existsSync(cwd) && statSync(cwd).isDirectory();
      const tempEnvironment = Object.fromEntries(["TMPDIR", "TEMP", "TMP"].filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]!]));
      const umask = process.umask();
      return {
        job_contract_violations: [],
        diagnostics: {
          compiled,
          checks: {
            cwd_temp_umask: {
              cwd,
              cwd_exists: cwdExists,
              tempdir: os().tmpdir().replace(/(.)\/+$/, "$1"),
              temp_environment: { expected: {}, actual: tempEnvironment, expected_hash: stableDigest({}), actual_hash: stableDigest(tempEnvironment), ok: true },
              umask,
              ok: cwdExists,
            },
          },
        },
      };
    },

    processFacts(processStartedAt) {
      return { hostname, pid: process.pid, process_started_at: processStartedAt, process_create_time_epoch: processCreateTimeEpoch() };
    },
  };
}
