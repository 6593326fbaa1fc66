/** End-to-end faults of `seamless jobserver` (issue 22 §6): a killed server, the idle timeout, bad flags. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { HttpBufferStore } from "../../lib/buffers/http-store.ts";
import { JobserverClient } from "../../lib/clients/jobserver.ts";
import { runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { bashTransformation } from "../jobserver-helpers.ts";
import { bootServer } from "../server-helpers.ts";

describe("seamless jobserver faults", () => {
  test("the jobserver killed mid-job: seamless run fails with one clear line and caches nothing", async () => {
    using dir = tempDir("seamless-e2e-jobserver-kill-");
    mkdirSync(join(dir.path, "buffers"));
    const env = scrubbedEnv(join(dir.path, "cache"));
    const hashserver = await bootServer("hashserver", ["hashserver", "buffers", "--writable"], dir.path, env);
    const jobserver = await bootServer("jobserver", ["jobserver"], dir.path, env, { parameters: { buffer: [{ readonly: false, url: hashserver.url }], database: [] } });
    const store = new HttpBufferStore(hashserver.url);
    try {
      const client = new JobserverClient(jobserver.url);
      const run = runSeamless(["run", "sleep 30; echo late"], { cwd: dir.path, env: { ...env, SEAMLESS_JOBSERVER: jobserver.url, SEAMLESS_HASHSERVER: hashserver.url } });
      const { tf } = await bashTransformation(store, "sleep 30; echo late");
      while ((await client.transformationStatus(tf)) !== "running") await Bun.sleep(20);
      jobserver.process.kill("SIGKILL");
      const result = await run;
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`Cannot run transformation ${tf}: jobserver ${jobserver.url}`);
      const dbPath = join(dir.path, "cache", "__TOPLEVEL__", "seamless.db");
      if (existsSync(dbPath)) {
        const db = new Database(dbPath, { readonly: true });
        expect(db.query(`SELECT count(*) AS n FROM "transformation"`).get()).toEqual({ n: 0 });
        db.close();
      }
    } finally {
      store.close();
      await jobserver.stop();
      await hashserver.stop();
    }
  }, 60_000);

  test("the idle timeout does not fire while a job runs; it fires once the server is idle", async () => {
    using dir = tempDir("seamless-e2e-jobserver-idle-");
    const env = scrubbedEnv(join(dir.path, "cache"));
    const jobserver = await bootServer("jobserver", ["jobserver", "--timeout", "1"], dir.path, env);
    const { BufferDir } = await import("../../lib/buffers/bufferdir.ts");
    const store = new BufferDir(join(dir.path, "cache", "__TOPLEVEL__"), { layout: "prefix" });
    const { dict, tf } = await bashTransformation(store, "sleep 3; echo patient");
    const client = new JobserverClient(jobserver.url);
    const result = await client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false });
    expect(Buffer.from((await store.get(result.checksum))!).toString()).toBe("patient\n");
    // Answered from the jobserver's own cache (the local seamless.db) the second time.
    expect((await client.runTransformation({ transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false })).checksum).toBe(result.checksum);
    expect(await jobserver.process.exited).toBe(0);
    expect(await jobserver.stderr()).toContain("No request for 1 s, stopping");
  }, 30_000);

  test("--help, bad flags and the default bind address", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const help = await runSeamless(["jobserver", "--help"], { cwd: dir.path, env });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("seamless jobserver [--port N | --port-range A B]");
    const zero = await runSeamless(["jobserver", "--workers", "0"], { cwd: dir.path, env });
    expect([zero.exitCode, zero.stderr.split("\n")[0]]).toEqual([2, 'seamless jobserver: --workers must be a positive integer, not "0"']);
    const both = await runSeamless(["jobserver", "--port", "1", "--port-range", "2", "3"], { cwd: dir.path, env });
    expect(both.exitCode).toBe(2);
    const jobserver = await bootServer("jobserver", ["jobserver"], dir.path, env);
    try {
      const status = JSON.parse(readFileSync(join(dir.path, "jobserver.status.json"), "utf8"));
      expect(status.status).toBe("running");
      await new JobserverClient(jobserver.url).healthcheck();
      await Bun.sleep(100); // the start-up line is written right after the status file
    } finally {
      await jobserver.stop();
    }
    expect(await jobserver.stderr()).toContain(`serving on http://127.0.0.1:${jobserver.port}`);
  }, 30_000);
});

describe("a jobserver launched on demand (execution: remote, services-spec §5.1)", () => {
  test("seamless run launches hashserver, database and jobserver; the jobserver's parameters name the other two", async () => {
    const { clusterFixture, readServerJson } = await import("./_cluster-fixture.ts");
    const base = tempDir("seamless-cluster-jobserver-");
    const root = base.path;
    using f = clusterFixture({
      yaml: "- project: demo\n- cluster: local\n- execution: remote\n",
      clusters: `local_cluster: local\nlocal:\n  type: local\n  workers: 2\n  frontends:\n    - hashserver: {bufferdir: ${root}/buffers, network_interface: 127.0.0.1}\n      database: {database_dir: ${root}/db, network_interface: 127.0.0.1}\n      jobserver: {network_interface: 127.0.0.1, port_start: 43100, port_end: 43999}\n`,
    });
    try {
      const result = await runSeamless(["run", "-v", "echo launched"], { cwd: f.project, env: f.env });
      expect(result.stderr).toContain('Launched jobserver "jobserver-local-rw-demo"');
      expect([result.exitCode, result.stdout]).toEqual([0, "launched\n"]);
      const jobserver = readServerJson(f, "jobserver-local-rw-demo");
      const hashserver = readServerJson(f, "hashserver-local-rw-demo");
      const database = readServerJson(f, "database-local-rw-demo");
      expect(jobserver.parameters).toEqual({
        buffer: [{ readonly: false, url: `http://127.0.0.1:${hashserver.port}` }],
        database: [{ readonly: false, url: `http://127.0.0.1:${database.port}` }],
      });
      expect(String(jobserver.command)).toContain("jobserver --workers 2 --port-range 43100 43999");
    } finally {
      f.killServers();
      base[Symbol.dispose]();
    }
  }, 60_000);
});
