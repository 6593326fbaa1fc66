/**
 * Record mode's bucket preconditions (services-spec §4.4 step 3, §4.5 "Record mode adds"), the
 * rule of seamless-transformer's probe index as the jobserver applies it: before a
 * transformation runs in record mode, the database must hold a fresh bucket probe for this
 * node, for the transformation's environment, and for the pair of the two (`node_env`). A
 * probe is fresh when its `freshness_tokens` equal what this machine shows now (Python `==`).
 * The probes themselves are captured by Python's `seamless-probe`, which runs probe
 * transformations (marked `__record_probe__`, exempt from the rule) on the same jobserver.
 * @module
 */
import type { Checksum } from "../checksum/checksum.ts";
import { SeamlessError } from "../errors.ts";
import type { PlainValue } from "../serialize/plain-json.ts";
import { pythonJsonEquals } from "../serialize/python-json.ts";
import type { BucketProbe } from "../wire/database.ts";
import type { PythonEnvironmentFacts } from "./host-facts.ts";

/** A record-mode precondition is not met; its message is the jobserver's `500` text. */
export class RecordBucketError extends SeamlessError {}

/** The dunder that marks a probe transformation (exempt from the preconditions). */
export const RECORD_PROBE_DUNDER = "__record_probe__";

/** The bucket kinds a jobserver requires (a daskserver adds `queue` and `queue_node`). */
export const JOBSERVER_BUCKET_KINDS = ["node", "environment", "node_env"] as const;

/** A bucket kind the jobserver checks. */
export type JobserverBucketKind = (typeof JOBSERVER_BUCKET_KINDS)[number];

type Tokens = { [key: string]: PlainValue };

/**
 * True when the transformation is a record probe: `__record_probe__` set (truthy) in its
 * execution dunders or in its dict.
 */
export function isRecordProbe(dict: Record<string, unknown>, tfDunder: Record<string, unknown> = {}): boolean {
  return [tfDunder, dict].some((payload) => isTruthy(payload[RECORD_PROBE_DUNDER]));
}

function isTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** The environment bucket of a transformation: its label and live freshness tokens. */
export interface EnvironmentBucket {
  label: string;
  tokens: Tokens;
}

/**
 * The environment bucket of a transformation environment (`__env__`, as a dict; `{}` when
 * absent or unresolvable): `docker:<image>` for a docker image; `conda:<prefix>` when it names
 * conda; else `python:<prefix>`, where prefix is `sys.prefix` of the Python that serves this
 * jobserver.
 *
 * @param environment the `__env__` dict
 * @param python the Python environment facts, or null when there is no Python here
 * @param whyNoPython what the error says when the label needs a Python and there is none
 * @throws {RecordBucketError} when the label needs a Python prefix and there is none
 */
export function environmentBucketOf(environment: Record<string, unknown>, python: PythonEnvironmentFacts | null, whyNoPython = "seamless-run-transformation is not installed here"): EnvironmentBucket {
  const docker = environment.docker as Record<string, unknown> | undefined;
  if (docker && typeof docker === "object" && !Array.isArray(docker) && typeof docker.name === "string") {
    return { label: `docker:${docker.name}`, tokens: { docker_name: docker.name } };
  }
  if (!python) {
    throw new RecordBucketError(`Record mode cannot name this jobserver's environment bucket (the sys.prefix of the Python that runs its Python transformations): ${whyNoPython}`);
  }
  const tokens: Tokens = { sys_prefix: python.prefix };
  if ("conda" in environment || "conda_environment" in environment) {
    if (python.condaHistoryMtimeNs !== null) tokens.conda_history_mtime_ns = python.condaHistoryMtimeNs;
    if (python.purelibMtimeNs !== null) tokens.purelib_mtime_ns = python.purelibMtimeNs;
    const condaEnvironment = environment.conda_environment;
    if (typeof condaEnvironment === "string" && condaEnvironment) tokens.conda_environment = condaEnvironment;
    return { label: `conda:${python.prefix}`, tokens };
  }
  if (python.purelibMtimeNs !== null) tokens.purelib_mtime_ns = python.purelibMtimeNs;
  return { label: `python:${python.prefix}`, tokens };
}

/** What the buckets must show, here and now. */
export interface ProbePlan {
  hostname: string;
  labels: { node: string; environment: string };
  liveTokens: { node: Tokens; environment: Tokens };
}

/**
 * The plan of a jobserver's check: the node bucket is labelled by hostname, with the hostname
 * and the kernel boot id (when readable) as tokens.
 */
export function probePlanOf(hostname: string, bootId: string | null, environment: EnvironmentBucket): ProbePlan {
  const nodeTokens: Tokens = { hostname };
  if (bootId !== null) nodeTokens.boot_id = bootId;
  return { hostname, labels: { node: hostname, environment: environment.label }, liveTokens: { node: nodeTokens, environment: environment.tokens } };
}

/** The `probe_context` of a record-mode answer (services-spec §4.5). */
export interface ProbeContext {
  required_bucket_labels: Record<JobserverBucketKind, string>;
  required_bucket_checksums: Record<JobserverBucketKind, Checksum>;
  live_tokens: Record<JobserverBucketKind, Tokens>;
  bucket_tokens: Record<JobserverBucketKind, Tokens>;
}

/** Looks up a bucket probe in the database (null when absent). */
export type BucketProbeLookup = (bucketKind: JobserverBucketKind, label: string) => Promise<BucketProbe | null>;

/** A Python `repr()` of a string, as the error texts show labels. */
export function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === "\\") out += "\\\\";
    else if (char === quote) out += `\\${quote}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return out + quote;
}

function bucketList(items: [string, string][]): string {
  return items.map(([kind, label]) => `${kind}=${pythonStringRepr(label)}`).join(", ");
}

/**
 * Checks the buckets of `plan` against the database: node and environment first, then the
 * `node_env` pair labelled `<node bucket checksum>:<environment bucket checksum>` with both
 * token sets as its tokens. Missing probes are reported before stale ones.
 *
 * @param plan what the buckets must show
 * @param lookup the database's `bucket_probe` GET
 * @returns the probe context the answer carries
 * @throws {RecordBucketError} "Record mode requires bucket probes for: node='host', …" or
 *   "Record mode detected stale bucket probes for: …"
 * @example
 * ```ts
 * const plan = probePlanOf("node1", null, { label: "docker:ubuntu", tokens: { docker_name: "ubuntu" } });
 * await checkRecordBuckets(plan, async () => null);
 * // throws: Record mode requires bucket probes for: node='node1', environment='docker:ubuntu'
 * ```
 */
export async function checkRecordBuckets(plan: ProbePlan, lookup: BucketProbeLookup): Promise<ProbeContext> {
  const labels: Partial<Record<JobserverBucketKind, string>> = { ...plan.labels };
  const live: Partial<Record<JobserverBucketKind, Tokens>> = { ...plan.liveTokens };
  const probes: Partial<Record<JobserverBucketKind, BucketProbe>> = {};
  const missing: [string, string][] = [];
  const stale: [string, string][] = [];
  const check = async (kind: JobserverBucketKind) => {
    const probe = await lookup(kind, labels[kind]!);
    if (!probe) {
      missing.push([kind, labels[kind]!]);
      return;
    }
    probes[kind] = probe;
    if (!pythonJsonEquals(probe.freshness_tokens, live[kind])) stale.push([kind, labels[kind]!]);
  };
  await check("node");
  await check("environment");
  if (probes.node && probes.environment) {
    labels.node_env = `${probes.node.bucket_checksum}:${probes.environment.bucket_checksum}`;
    live.node_env = { node: plan.liveTokens.node, environment: plan.liveTokens.environment };
    await check("node_env");
  }
  if (missing.length > 0) throw new RecordBucketError(`Record mode requires bucket probes for: ${bucketList(missing)}`);
  if (stale.length > 0) throw new RecordBucketError(`Record mode detected stale bucket probes for: ${bucketList(stale)}`);
  const each = <T>(pick: (kind: JobserverBucketKind) => T) =>
    Object.fromEntries(JOBSERVER_BUCKET_KINDS.map((kind) => [kind, pick(kind)])) as Record<JobserverBucketKind, T>;
  return {
    required_bucket_labels: each((kind) => labels[kind]!),
    required_bucket_checksums: each((kind) => probes[kind]!.bucket_checksum),
    live_tokens: each((kind) => live[kind]!),
    bucket_tokens: each((kind) => probes[kind]!.freshness_tokens),
  };
}
