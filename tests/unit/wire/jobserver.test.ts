import { describe, expect, test } from "bun:test";
import {
  JobserverBody, JobserverPath, JobserverWireError, decodeCancelAnswer, decodeRunTransformationAnswer, decodeRunTransformationRequest,
  decodeSoftcancelRequest, decodeStatusAnswer, encodeCancelAnswer, encodeRunTransformationAnswer, encodeRunTransformationRequest,
  encodeStatusAnswer, formatUtcSeconds, parseRouteChecksum, recordModeMismatchText, type RecordRuntime,
} from "../../../lib/wire/jobserver.ts";

const TF = "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550";
const RESULT = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const RUNTIME: RecordRuntime = {
  started_at: "2026-04-27T10:00:00Z", finished_at: "2026-04-27T10:00:03Z", wall_time_seconds: 3.0, cpu_user_seconds: 1.2,
  cpu_system_seconds: 0.4, memory_peak_bytes: 123456, gpu_memory_peak_bytes: null,
};

function wireErrorOf(fn: () => unknown): JobserverWireError {
  try {
    fn();
  } catch (error) {
    if (error instanceof JobserverWireError) return error;
    throw error;
  }
  throw new Error("expected a JobserverWireError");
}

describe("jobserver wire: routes (services-spec §4.2, §4.7)", () => {
  test("paths are spelled as the Python jobserver serves them", () => {
    expect(JobserverPath.runTransformation).toBe("/run-transformation");
    expect(JobserverPath.transformationStatus(TF)).toBe(`/transformation-status/${TF}`);
    expect(JobserverPath.cancelTransformation(TF)).toBe(`/cancel-transformation/${TF}`);
    expect(JobserverPath.softcancelTransformation(TF)).toBe(`/softcancel-transformation/${TF}`);
    expect(JobserverBody.root).toBe("Seamless jobserver is running");
    expect(JobserverBody.canceled).toBe("Transformation was canceled");
  });
});

describe("decodeRunTransformationRequest() (services-spec §4.3, §4.4)", () => {
  const dict = { __language__: "bash", __output__: ["result", "bytes", null], code: ["text", null, "d65036ae8a34ae36c91eaa2b3f8d70253d2b4fbda8419219df050d90f56b088d"] };

  test("fills the defaults of tf_dunder and scratch; record stays absent for old clients", () => {
    const request = decodeRunTransformationRequest(JSON.stringify({ transformation_dict: dict, tf_checksum: TF.toUpperCase() }));
    expect(request).toEqual({ transformation_dict: dict as never, tf_checksum: TF, tf_dunder: {}, scratch: false });
    expect("record" in request).toBe(false);
  });

  test("keeps record, strict_dunder and member_id of newer clients", () => {
    const request = decodeRunTransformationRequest(encodeRunTransformationRequest({ transformation_dict: dict as never, tf_checksum: TF, tf_dunder: {}, scratch: true, record: false, strict_dunder: true, member_id: "m1" }));
    expect(request.record).toBe(false);
    expect(request.strict_dunder).toBe(true);
    expect(request.member_id).toBe("m1");
    expect(request.scratch).toBe(true);
  });

  test("a body that is not JSON is 400 Invalid JSON", () => {
    const error = wireErrorOf(() => decodeRunTransformationRequest("{nope"));
    expect(error.status).toBe(400);
    expect(error.body).toStartWith("Invalid JSON: ");
  });

  test("a missing transformation_dict or a bad tf_checksum is 400 Invalid payload", () => {
    expect(wireErrorOf(() => decodeRunTransformationRequest(JSON.stringify({ tf_checksum: TF }))).body).toStartWith("Invalid payload: ");
    const bad = wireErrorOf(() => decodeRunTransformationRequest(JSON.stringify({ transformation_dict: dict, tf_checksum: "abc" })));
    expect(bad.status).toBe(400);
    expect(bad.body).toStartWith("Invalid payload: ");
    expect(wireErrorOf(() => decodeRunTransformationRequest("[1, 2]")).body).toStartWith("Invalid payload: ");
  });
});

describe("run-transformation answers (services-spec §4.5, §4.8)", () => {
  test("the structured form carries result_checksum and record_runtime in Python json.dumps layout", () => {
    const body = encodeRunTransformationAnswer(RESULT, RUNTIME, true);
    expect(body).toBe(
      `{"result_checksum": "${RESULT}", "record_runtime": {"started_at": "2026-04-27T10:00:00Z", "finished_at": "2026-04-27T10:00:03Z", "wall_time_seconds": 3.0, "cpu_user_seconds": 1.2, "cpu_system_seconds": 0.4, "memory_peak_bytes": 123456, "gpu_memory_peak_bytes": null}}`,
    );
    expect(decodeRunTransformationAnswer(body)).toEqual({ kind: "result", checksum: RESULT, runtime: JSON.parse(body).record_runtime });
  });

  test("times are Python floats even when whole (a cache answer's zeros), and strings are ASCII-escaped as json.dumps does", () => {
    const zero = { ...RUNTIME, wall_time_seconds: 0, cpu_user_seconds: 0, cpu_system_seconds: 0, hostname: "h\u00e9st", process_create_time_epoch: 1733471234, pid: 12 };
    const body = encodeRunTransformationAnswer(RESULT, zero, true);
    expect(body).toContain('"wall_time_seconds": 0.0, "cpu_user_seconds": 0.0, "cpu_system_seconds": 0.0,');
    expect(body).toContain('"hostname": "h\\u00e9st", "process_create_time_epoch": 1733471234.0, "pid": 12}');
  });

  test("the old form is the bare checksum, and clients read it", () => {
    expect(encodeRunTransformationAnswer(RESULT, RUNTIME, false)).toBe(RESULT);
    expect(decodeRunTransformationAnswer(RESULT)).toEqual({ kind: "result", checksum: RESULT });
  });

  test("the canceled text and remote-job markers are recognised in both forms", () => {
    expect(decodeRunTransformationAnswer("Transformation was canceled")).toEqual({ kind: "canceled" });
    expect(decodeRunTransformationAnswer("__SEAMLESS_REMOTE_JOB_WRITTEN__:/tmp/job")).toEqual({ kind: "remote-job", marker: "__SEAMLESS_REMOTE_JOB_WRITTEN__:/tmp/job" });
    expect(decodeRunTransformationAnswer('{"remote_job_written": "__SEAMLESS_REMOTE_JOB_WRITTEN__:/tmp/job"}')).toEqual({ kind: "remote-job", marker: "__SEAMLESS_REMOTE_JOB_WRITTEN__:/tmp/job" });
  });

  test("a dict without result_checksum is a malformed success payload", () => {
    expect(wireErrorOf(() => decodeRunTransformationAnswer('{"record_runtime": {}}')).body).toBe("Malformed jobserver success payload");
    expect(() => decodeRunTransformationAnswer("garbage")).toThrow(JobserverWireError);
  });

  test("timestamps are UTC with second precision and a Z suffix", () => {
    expect(formatUtcSeconds(new Date("2026-04-27T10:00:03.789Z"))).toBe("2026-04-27T10:00:03Z");
  });

  test("the record-mode mismatch text names both modes as Python prints them", () => {
    expect(recordModeMismatchText(true, false)).toBe(
      "Jobserver record mode mismatch: client requested record=True, but jobserver started with record=False. Restart the jobserver after changing record mode.",
    );
  });
});

describe("status and cancellation bodies (services-spec §4.7)", () => {
  test("status, cancel and softcancel answers round-trip", () => {
    expect(encodeStatusAnswer("running")).toBe('{"status": "running"}');
    expect(decodeStatusAnswer('{"status": "not-running"}')).toBe("not-running");
    expect(encodeCancelAnswer({ canceled: true, status: "canceled" })).toBe('{"canceled": true, "status": "canceled"}');
    expect(decodeCancelAnswer('{"canceled": false, "status": "done"}')).toEqual({ canceled: false, status: "done" });
  });

  test("a softcancel without member_id is 400 Missing member_id", () => {
    expect(decodeSoftcancelRequest('{"member_id": "a"}')).toBe("a");
    for (const body of ["{}", '{"member_id": ""}', "nope"]) {
      const error = wireErrorOf(() => decodeSoftcancelRequest(body));
      expect([error.status, error.body]).toEqual([400, "Missing member_id"]);
    }
  });

  test("a route checksum that is not 64 hex characters is 400 Invalid checksum", () => {
    expect(parseRouteChecksum(TF.toUpperCase())).toBe(TF);
    const error = wireErrorOf(() => parseRouteChecksum("xyz"));
    expect([error.status, error.body]).toEqual([400, "Invalid checksum: xyz"]);
  });
});
