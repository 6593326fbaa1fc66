import { describe, expect, test } from "bun:test";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { serializePlain } from "../../../lib/serialize/plain-json.ts";
import { dumpsPythonJson } from "../../../lib/serialize/python-json.ts";
import { decodeBucketProbeAnswer, type BucketProbe } from "../../../lib/wire/database.ts";
import {
  RecordBucketError, checkRecordBuckets, environmentBucketOf, isRecordProbe, probePlanOf, pythonStringRepr, type BucketProbeLookup,
} from "../../../lib/record/bucket-probes.ts";
import { processCreateTimeEpoch, pythonEnvironmentOf } from "../../../lib/record/host-facts.ts";
import { createJobserverRecordMode } from "../../../lib/record/jobserver-record.ts";
import { tempDir } from "../../helpers.ts";

const PYTHON = { prefix: "/opt/py", purelibMtimeNs: 1733475200123456789n, condaHistoryMtimeNs: null };
const NODE_CS = "aa".repeat(32);
const ENV_CS = "bb".repeat(32);
const PAIR_CS = "cc".repeat(32);

/** A database of probes, answered as the real one would send them (Python JSON text, decoded). */
function database(probes: BucketProbe[]): { lookup: BucketProbeLookup; asked: string[] } {
  const asked: string[] = [];
  const lookup: BucketProbeLookup = async (kind, label) => {
    asked.push(`${kind}=${label}`);
    const probe = probes.find((p) => p.bucket_kind === kind && p.label === label);
    return probe ? decodeBucketProbeAnswer(dumpsPythonJson(probe)) : null;
  };
  return { lookup, asked };
}

function probesFor(plan: ReturnType<typeof probePlanOf>): BucketProbe[] {
  const captured_at = "2026-12-06T08:00:00.000000Z";
  return [
    { bucket_kind: "node", label: plan.labels.node, bucket_checksum: NODE_CS, captured_at, freshness_tokens: plan.liveTokens.node },
    { bucket_kind: "environment", label: plan.labels.environment, bucket_checksum: ENV_CS, captured_at, freshness_tokens: plan.liveTokens.environment },
    { bucket_kind: "node_env", label: `${NODE_CS}:${ENV_CS}`, bucket_checksum: PAIR_CS, captured_at, freshness_tokens: { node: plan.liveTokens.node, environment: plan.liveTokens.environment } },
  ];
}

describe("record-mode bucket preconditions (services-spec §4.4 step 3)", () => {
  test("isRecordProbe() looks for a truthy __record_probe__ in the dunders and the dict", () => {
    expect(isRecordProbe({ __language__: "python" }, { __record_probe__: { mode: "capture" } })).toBe(true);
    expect(isRecordProbe({ __record_probe__: true })).toBe(true);
    expect(isRecordProbe({ __record_probe__: {} }, { __record_probe__: false })).toBe(false);
    expect(isRecordProbe({ __language__: "bash" })).toBe(false);
  });

  test("environmentBucketOf() labels docker images, conda and plain Python environments with their tokens", () => {
    expect(environmentBucketOf({ docker: { name: "ubuntu:24.04" } }, null)).toEqual({ label: "docker:ubuntu:24.04", tokens: { docker_name: "ubuntu:24.04" } });
    expect(environmentBucketOf({}, PYTHON)).toEqual({ label: "python:/opt/py", tokens: { sys_prefix: "/opt/py", purelib_mtime_ns: 1733475200123456789n } });
    const conda = environmentBucketOf({ conda_environment: "bio" }, { ...PYTHON, condaHistoryMtimeNs: 5n });
    expect(conda.label).toBe("conda:/opt/py");
    expect(Object.keys(conda.tokens)).toEqual(["sys_prefix", "conda_history_mtime_ns", "purelib_mtime_ns", "conda_environment"]);
    expect(conda.tokens.conda_environment).toBe("bio");
    expect(() => environmentBucketOf({}, null)).toThrow(
      "Record mode cannot name this jobserver's environment bucket (the sys.prefix of the Python that runs its Python transformations): seamless-run-transformation is not installed here",
    );
  });

  test("checkRecordBuckets() names every missing bucket as Python does; node_env is asked only once both exist", async () => {
    const plan = probePlanOf("node1", "boot-1", environmentBucketOf({}, PYTHON));
    const { lookup, asked } = database([]);
    const error = await checkRecordBuckets(plan, lookup).catch((e) => e);
    expect(error).toBeInstanceOf(RecordBucketError);
    expect(error.message).toBe("Record mode requires bucket probes for: node='node1', environment='python:/opt/py'");
    expect(asked).toEqual(["node=node1", "environment=python:/opt/py"]);
    const partial = database(probesFor(plan).filter((p) => p.bucket_kind !== "node_env"));
    expect((await checkRecordBuckets(plan, partial.lookup).catch((e) => e)).message).toBe(`Record mode requires bucket probes for: node_env='${NODE_CS}:${ENV_CS}'`);
  });

  test("checkRecordBuckets() answers the probe context when every probe is fresh (large integers compared exactly)", async () => {
    const plan = probePlanOf("node1", "boot-1", environmentBucketOf({}, PYTHON));
    const context = await checkRecordBuckets(plan, database(probesFor(plan)).lookup);
    expect(context.required_bucket_labels).toEqual({ node: "node1", environment: "python:/opt/py", node_env: `${NODE_CS}:${ENV_CS}` });
    expect(context.required_bucket_checksums).toEqual({ node: NODE_CS, environment: ENV_CS, node_env: PAIR_CS });
    expect(context.live_tokens.node).toEqual({ hostname: "node1", boot_id: "boot-1" });
    expect(dumpsPythonJson(context.bucket_tokens.environment)).toBe('{"sys_prefix": "/opt/py", "purelib_mtime_ns": 1733475200123456789}');
  });

  test("checkRecordBuckets() reports stale probes: a reboot, a changed environment", async () => {
    const old = probePlanOf("node1", "boot-1", environmentBucketOf({}, PYTHON));
    const rebooted = probePlanOf("node1", "boot-2", environmentBucketOf({}, PYTHON));
    expect((await checkRecordBuckets(rebooted, database(probesFor(old)).lookup).catch((e) => e)).message).toBe(
      `Record mode detected stale bucket probes for: node='node1', node_env='${NODE_CS}:${ENV_CS}'`,
    );
    // One nanosecond later: beyond 2^53, a float comparison would not see it.
    const changed = probePlanOf("node1", "boot-1", environmentBucketOf({}, { ...PYTHON, purelibMtimeNs: PYTHON.purelibMtimeNs + 1n }));
    expect((await checkRecordBuckets(changed, database(probesFor(old)).lookup).catch((e) => e)).message).toBe(
      `Record mode detected stale bucket probes for: environment='python:/opt/py', node_env='${NODE_CS}:${ENV_CS}'`,
    );
  });

  test("pythonStringRepr() quotes as Python's repr()", () => {
    expect(pythonStringRepr("node1")).toBe("'node1'");
    expect(pythonStringRepr("it's")).toBe(`"it's"`);
    expect(pythonStringRepr(`a'b"c`)).toBe(`'a\\'b"c'`);
    expect(pythonStringRepr("tab\there")).toBe("'tab\\there'");
  });
});

describe("host facts and the jobserver's record mode", () => {
  test("pythonEnvironmentOf() takes sys.prefix from the runner's #! line and the mtimes of site-packages and conda history", () => {
    using dir = tempDir("seamless-record-python-");
    const prefix = join(dir.path, "env");
    mkdirSync(join(prefix, "bin"), { recursive: true });
    mkdirSync(join(prefix, "lib", "python3.12", "site-packages"), { recursive: true });
    mkdirSync(join(prefix, "conda-meta"));
    writeFileSync(join(prefix, "conda-meta", "history"), "");
    const runner = join(prefix, "bin", "seamless-run-transformation");
    writeFileSync(runner, `#!${join(prefix, "bin", "python3.12")}\nimport sys\n`, { mode: 0o755 });
    const facts = pythonEnvironmentOf(runner);
    expect(facts).toEqual({
      prefix,
      purelibMtimeNs: statSync(join(prefix, "lib", "python3.12", "site-packages"), { bigint: true }).mtimeNs,
      condaHistoryMtimeNs: statSync(join(prefix, "conda-meta", "history"), { bigint: true }).mtimeNs,
    });
    writeFileSync(runner, "no shebang\n");
    expect(pythonEnvironmentOf(runner)).toBeNull();
  });

  test("processCreateTimeEpoch() lies between boot and now, like psutil's create_time()", () => {
    const created = processCreateTimeEpoch()!;
    const boot = Number(require("node:fs").readFileSync("/proc/stat", "latin1").match(/^btime (\d+)$/m)[1]);
    expect(created).toBeGreaterThanOrEqual(boot);
    expect(created).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  test("createJobserverRecordMode() requires a database, resolves __env__ from the store, and reports cwd, temp and umask", async () => {
    using dir = tempDir("seamless-record-mode-");
    const store = new BufferDir(dir.path, { layout: "prefix" });
    store.ensureExists();
    const none = createJobserverRecordMode({ lookup: null, store, pythonRunner: () => null, hostname: "node1" });
    expect((await none.checkBuckets({}, {}).catch((e) => e)).message).toBe("Record mode requires an active database read server");
    const environment = serializePlain({ docker: { name: "alpine" } });
    await store.put(computeChecksum(environment), environment);
    const asked: string[] = [];
    const record = createJobserverRecordMode({ lookup: async (kind, label) => (asked.push(`${kind}=${label}`), null), store, pythonRunner: () => null, hostname: "node1" });
    const error = await record.checkBuckets({ __env__: computeChecksum(environment) }, {}).catch((e) => e);
    expect(error.message).toBe("Record mode requires bucket probes for: node='node1', environment='docker:alpine'");
    const validation = record.jobValidation({}, {}) as { job_contract_violations: unknown[]; diagnostics: { compiled: boolean; checks: { cwd_temp_umask: Record<string, unknown> } } };
    expect(validation.job_contract_violations).toEqual([]);
    expect(validation.diagnostics.compiled).toBe(false);
    expect(validation.diagnostics.checks.cwd_temp_umask).toMatchObject({ cwd: process.cwd(), cwd_exists: true, ok: true, umask: process.umask() });
    expect((validation.diagnostics.checks.cwd_temp_umask.temp_environment as Record<string, unknown>).expected_hash).toBe(computeChecksum(Buffer.from("{}")));
    expect(record.processFacts("2026-12-06T08:00:00Z")).toMatchObject({ hostname: "node1", pid: process.pid, process_started_at: "2026-12-06T08:00:00Z" });
  });
});
