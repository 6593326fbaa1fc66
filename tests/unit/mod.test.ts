import { expect, test } from "bun:test";
import * as seamless from "../../mod.ts";

test("mod.ts exposes the library API", () => {
  expect(seamless.computeChecksum("hello\n")).toBe("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  for (const name of ["parseChecksum", "serializePlain", "readChecksumSidecar", "BufferDir", "HttpBufferStore", "createHashserverHandler", "serveService", "parseCommandLine", "prepareBashTransformation", "SqliteResultCache", "computeTransformation", "DatabaseClient", "createDatabaseHandler", "DatabaseFile", "FanOutResultCache", "resolveConfig", "ensureService", "startServiceHere", "openBufferStoreFor", "openResultCacheFor", "fingertipBuffer", "cancelLocalTransformation", "createJobserverHandler", "JobserverClient", "WorkerPool", "TransformationExecutor", "openJobserverFor", "computeOnJobserver"]) {
    expect(typeof (seamless as Record<string, unknown>)[name]).toBe("function");
  }
});
