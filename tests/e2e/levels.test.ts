/**
 * End-to-end: delegation levels with servers launched from seamless.yaml (services-spec §7.1):
 * level 2 (hashserver + database) for `seamless run`, level 1 for resolve.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless } from "../helpers.ts";
import { clusterFixture, readServerJson } from "./_cluster-fixture.ts";

// Launching servers and running the binary take seconds on a busy machine.
setDefaultTimeout(30_000);

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error("dist/seamless is missing: run `npm run build` first (npm test does)");
});

describe("level 2: a local cluster's hashserver and database, launched on demand", () => {
  test("run checks the database, executes locally, stores the result and its execution record; the second run is a hit", async () => {
    using f = clusterFixture();
    writeFileSync(join(f.project, "in.txt"), "two\nlines\n");
    const first = await runSeamless(["run", "-vv", "wc", "-l", "in.txt"], { cwd: f.project, env: f.env });
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toBe("2 in.txt\n");
    expect(first.stderr).toContain('Launched hashserver "hashserver-local-rw-demo"');
    expect(first.stderr).toContain('Launched database "database-local-rw-demo"');
    const resultChecksum = /Result checksum: ([0-9a-f]{64})/.exec(first.stderr)![1]!;
    expect(readServerJson(f, "database-local-rw-demo").command).toContain(`--writable ${join(f.root, "db/demo/seamless.db")}`);
    // The result buffer is on the hashserver; result and execution record in the database.
    expect(existsSync(join(f.root, "buffers/demo", resultChecksum.slice(0, 2), resultChecksum))).toBe(true);
    const second = await runSeamless(["run", "-vv", "wc", "-l", "in.txt"], { cwd: f.project, env: f.env });
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toBe("2 in.txt\n");
    expect(second.stderr).toContain(`Result checksum: ${resultChecksum} (from cache)`);
    expect(second.stderr).not.toContain("Launched");
    f.killServers();
    await Bun.sleep(200);
    const db = new Database(join(f.root, "db/demo/seamless.db"), { readonly: true });
    const row = db.query(`SELECT "checksum", "result", "metadata" FROM "meta_data"`).get() as { checksum: string; result: string; metadata: string };
    db.close();
    expect(row.result).toBe(resultChecksum);
    expect(JSON.parse(row.metadata)).toMatchObject({ tf_checksum: row.checksum, result_checksum: resultChecksum, execution_mode: "process" });
    // Nothing went to the embedded cache.
    expect(existsSync(join(f.root, "xdg/seamless/__TOPLEVEL__/seamless.db"))).toBe(false);
  });

  test("execution: remote without jobserver support says so and runs locally", async () => {
    using f = clusterFixture({ yaml: "- project: demo\n- cluster: local\n" });
    const result = await runSeamless(["run", "echo", "local"], { cwd: f.project, env: f.env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("local\n");
    expect(result.stderr).toBe(`seamless run: execution "remote" needs a jobserver, and cluster "local" has none: transformations run locally\n`);
  });

  test("--stage selects another hashserver and database (another key and directory)", async () => {
    using f = clusterFixture();
    writeFileSync(join(f.project, "x.txt"), "x\n");
    const upload = await runSeamless(["upload", "--stage", "prod", "x.txt"], { cwd: f.project, env: f.env });
    expect(upload.exitCode).toBe(0);
    expect(readServerJson(f, "hashserver-local-rw-demo--STAGE-prod").workdir).toBe(join(f.root, "buffers/demo/STAGE-prod"));
    const checksum = readFileSync(join(f.project, "x.txt.CHECKSUM"), "utf8").trim();
    const elsewhere = await runSeamless(["resolve", checksum], { cwd: f.project, env: f.env });
    expect(elsewhere.exitCode).toBe(1);
    expect(elsewhere.stderr).toContain(`Cannot resolve buffer "${checksum}": not found`);
    const there = await runSeamless(["resolve", "--stage", "prod", checksum], { cwd: f.project, env: f.env });
    expect(there).toMatchObject({ exitCode: 0, stdout: "x\n" });
  });
});
