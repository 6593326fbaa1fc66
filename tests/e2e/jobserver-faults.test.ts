/** End-to-end faults of `seamless jobserver` (issue 22 §6): a killed server, the idle timeout, bad flags. */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { BufferDir } from "../../lib/buffers/bufferdir.ts";
import { HttpBufferStore } from "../../lib/buffers/http-store.ts";
import { JobserverClient } from "../../lib/clients/jobserver.ts";
import { RemoteError } from "../../lib/errors.ts";
import { httpRequest } from "../../lib/wire/http-client.ts";
import { processesWithCommandLine, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { bashTransformation, checksumOfText } from "../jobserver-helpers.ts";
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

  test("a launched jobserver killed mid-job is relaunched and the job resubmitted once; the result is cached once", async () => {
    const { clusterFixture, readServerJson } = await import("./_cluster-fixture.ts");
    const base = tempDir("seamless-cluster-relaunch-");
    const root = base.path;
    using f = clusterFixture({
      yaml: "- project: demo\n- cluster: local\n- execution: remote\n",
      clusters: `local_cluster: local\nlocal:\n  type: local\n  workers: 1\n  frontends:\n    - hashserver: {bufferdir: ${root}/buffers, network_interface: 127.0.0.1}\n      database: {database_dir: ${root}/db, network_interface: 127.0.0.1}\n      jobserver: {network_interface: 127.0.0.1, port_start: 44100, port_end: 44999}\n`,
    });
    try {
      const run = runSeamless(["run", "sleep 2.71; echo relaunched"], { cwd: f.project, env: f.env });
      await until(() => processesWithCommandLine("sleep 2.71").length === 1, "the job to run on the launched jobserver", 30_000);
      const first = readServerJson(f, "jobserver-local-rw-demo");
      process.kill(first.pid as number, "SIGKILL");
      const result = await run;
      expect([result.exitCode, result.stdout]).toEqual([0, "relaunched\n"]);
      expect(result.stderr).toContain(`jobserver http://127.0.0.1:${first.port}`);
      expect(result.stderr).toContain("relaunching the jobserver and resubmitting once");
      const second = readServerJson(f, "jobserver-local-rw-demo");
      expect(second.pid).not.toBe(first.pid);
      expect(second.status).toBe("running");
      const db = new Database(join(root, "db", "demo", "seamless.db"), { readonly: true });
      try {
        expect(db.query(`SELECT "result" FROM "transformation"`).all()).toEqual([{ result: checksumOfText("relaunched\n") }]);
      } finally {
        db.close();
      }
    } finally {
      f.killServers();
      base[Symbol.dispose]();
    }
  }, 90_000);
});

/** Waits until `condition` holds, at most `timeoutMs` (a bounded wait, not a timing assertion). */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A compiled jobserver serving a fresh local cache, its client and the cache's buffer store. */
async function localJobserver(prefix: string, args: string[] = []) {
  const dir = tempDir(prefix);
  const env = scrubbedEnv(join(dir.path, "cache"));
  const jobserver = await bootServer("jobserver", ["jobserver", ...args], dir.path, env);
  const store = new BufferDir(join(dir.path, "cache", "__TOPLEVEL__"), { layout: "prefix" });
  const client = new JobserverClient(jobserver.url);
  return {
    dir: dir.path,
    jobserver,
    store,
    client,
    /** The request of a bash transformation of `command`, its buffers stored. */
    request: async (command: string) => {
      const { dict, tf } = await bashTransformation(store, command);
      return { transformation_dict: dict, tf_checksum: tf, tf_dunder: {}, scratch: false, record: false };
    },
    resultCache: () => new Database(join(dir.path, "cache", "__TOPLEVEL__", "seamless.db"), { readonly: true }),
    async [Symbol.asyncDispose]() {
      store.close();
      await jobserver.stop();
      dir[Symbol.dispose]();
    },
  };
}

describe("seamless jobserver faults on the compiled server (issue 22 §6)", () => {
  test("a worker killed mid-job is restarted and the job retried once on another worker; a job that kills its worker twice fails clearly", async () => {
    await using server = await localJobserver("seamless-e2e-jobserver-worker-kill-", ["--workers", "2"]);
    const { client, store } = server;
    const pids = join(server.dir, "worker-pids");
    // $PPID of the job's bash is the worker process that runs it.
    const running = client.runTransformation(await server.request(`echo $PPID >> ${pids}; sleep 0.5; echo retried`));
    await until(() => existsSync(pids) && readFileSync(pids, "utf8").endsWith("\n"), "the job to start");
    const victim = Number(readFileSync(pids, "utf8").trim());
    process.kill(victim, "SIGKILL");
    const result = await running;
    expect(Buffer.from((await store.get(result.checksum))!).toString()).toBe("retried\n");
    const workers = readFileSync(pids, "utf8").trim().split("\n").map(Number);
    expect(workers).toHaveLength(2);
    expect(workers[1]).not.toBe(victim);

    // The worker dies at once, maybe before it reported the job's process group: the job's
    // processes are found by their marker and killed all the same.
    const twice = await server.request("kill -9 $PPID; sleep 97");
    const error = await client.runTransformation(twice).catch((e) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.status).toBe(500);
    expect(error.message).toContain(`Transformation ${twice.tf_checksum} failed: its worker process was killed by SIGKILL, twice (retried once on another worker)`);
    await until(() => processesWithCommandLine("sleep 97").length === 0, "the job's processes to be killed", 10_000);

    // The pool is whole again: both workers were restarted and run jobs.
    expect((await client.runTransformation(await server.request("echo after"))).checksum).toBe(checksumOfText("after\n"));
    await server.jobserver.stop();
    expect(await server.jobserver.stderr()).toContain(`(pid ${victim}) was killed by SIGKILL while running 1 job(s)`);
  }, 60_000);

  test("a client that disconnects, the only member: the job is killed, its slot freed, nothing cached", async () => {
    // One worker, one job at a time: the next job runs only if the slot was freed.
    await using server = await localJobserver("seamless-e2e-jobserver-disconnect-", ["--workers", "1", "--jobs-per-worker", "1"]);
    const { client } = server;
    const request = await server.request("sleep 971; echo never");
    const controller = new AbortController();
    // A bare HTTP request whose connection is dropped: no soft-cancel is sent.
    const dropped = httpRequest(new URL(server.jobserver.url), "/run-transformation", { method: "GET", body: JSON.stringify(request), headers: { "content-type": "application/json" }, signal: controller.signal }).catch((e) => e);
    await until(() => processesWithCommandLine("sleep 971").length === 1, "the job to run");
    controller.abort();
    await dropped;
    await until(async () => (await client.transformationStatus(request.tf_checksum)) === "canceled", "the run to be canceled");
    await until(() => processesWithCommandLine("sleep 971").length === 0, "the job's process to die");
    const next = await server.request("echo next");
    expect((await client.runTransformation(next)).checksum).toBe(checksumOfText("next\n"));
    const db = server.resultCache();
    try {
      const count = (tf: string) => db.query(`SELECT count(*) AS n FROM "transformation" WHERE "checksum" = ?`).get(tf);
      expect([count(request.tf_checksum), count(next.tf_checksum)]).toEqual([{ n: 0 }, { n: 1 }]);
    } finally {
      db.close();
    }
  }, 60_000);

  test("the jobserver killed mid-job leaves no worker and no job process behind", async () => {
    await using server = await localJobserver("seamless-e2e-jobserver-kill-orphans-", ["--workers", "2"]);
    const pids = join(server.dir, "worker-pids");
    const running = server.client.runTransformation(await server.request(`echo $PPID >> ${pids}; sleep 973`)).catch((e) => e);
    await until(() => processesWithCommandLine("sleep 973").length === 1, "the job to run");
    const worker = Number(readFileSync(pids, "utf8").trim());
    server.jobserver.process.kill("SIGKILL");
    expect(await running).toBeInstanceOf(RemoteError);
    await until(() => processesWithCommandLine("sleep 973").length === 0 && !isAlive(worker), "the worker and its job to go");
  }, 60_000);

  test("a failing transformation that writes 100 MB to stderr fails with its start and end (the middle dropped), no deadlock", async () => {
    await using server = await localJobserver("seamless-e2e-jobserver-loud-fail-");
    const error = await server.client.runTransformation(await server.request("head -c 100000000 /dev/zero | tr '\\0' e >&2; echo last-words >&2; exit 3")).catch((e) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.status).toBe(500);
    expect(error.message).toContain("Return code 3");
    expect(error.message).toContain("last-words");
    expect(error.message).toContain("characters omitted");
    expect(error.message.length).toBeLessThan(1_000_000);
  }, 60_000);
});
