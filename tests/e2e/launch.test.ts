/**
 * End-to-end: servers launched on demand through remote-http-launcher files (services-spec
 * §5.2), with the compiled binary, a private HOME and launcher directory.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless } from "../helpers.ts";
import { clusterFixture, readServerJson } from "./_cluster-fixture.ts";

const KEY = "hashserver-local-rw-demo";

// Launching servers and running the binary take seconds on a busy machine.
setDefaultTimeout(30_000);

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error("dist/seamless is missing: run `npm run build` first (npm test does)");
});

/** A pid that certainly belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = Bun.spawn(["true"]);
  await child.exited;
  return child.pid;
}

describe("launching a local hashserver (level 1)", () => {
  test("upload launches it, resolve reuses it; files as remote-http-launcher writes them", async () => {
    using f = clusterFixture();
    writeFileSync(join(f.project, "a.txt"), "hello\n");
    const upload = await runSeamless(["upload", "-v", "a.txt"], { cwd: f.project, env: f.env });
    expect(upload.stderr).toContain(`Launched hashserver "${KEY}"`);
    expect(upload.exitCode).toBe(0);
    const server = readServerJson(f, KEY);
    expect(server).toMatchObject({ status: "running", workdir: join(f.root, "buffers/demo"), log: join(f.launcherDir, "server", `${KEY}.log`), network_interface: "127.0.0.1", meta: { service: "hashserver" } });
    expect(server.command).toBe(`hashserver --port 0 --status-file ${join(f.launcherDir, "server", `${KEY}.json`)} --host 127.0.0.1 --timeout 600 ${join(f.root, "buffers/demo")} --writable`);
    const client = JSON.parse(readFileSync(join(f.launcherDir, "client", `${KEY}.json`), "utf8"));
    expect(client).toEqual({ hostname: "127.0.0.1", port: server.port });
    for (const dir of ["client", "server"]) expect(statSync(join(f.launcherDir, dir, `${KEY}.json`)).mode & 0o777).toBe(0o600);
    // The buffer is in the hashserver's directory (prefix layout), not in the embedded cache.
    const checksum = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    expect(readFileSync(join(f.project, "a.txt.CHECKSUM"), "utf8")).toBe(`${checksum}\n`);
    expect(existsSync(join(f.root, "buffers/demo", "58", checksum))).toBe(true);
    expect(existsSync(join(f.root, "xdg/seamless/__TOPLEVEL__"))).toBe(false);
    const resolve = await runSeamless(["resolve", "a.txt.CHECKSUM"], { cwd: f.project, env: f.env });
    expect(resolve).toMatchObject({ exitCode: 0, stdout: "hello\n" });
    expect(readServerJson(f, KEY).pid).toBe(server.pid);
  });

  test("a server launched by someone else (Python-style JSON files) is found and reused, not relaunched", async () => {
    using f = clusterFixture();
    const workdir = join(f.root, "buffers/demo");
    mkdirSync(workdir, { recursive: true });
    mkdirSync(join(f.launcherDir, "server"), { recursive: true });
    mkdirSync(join(f.launcherDir, "client"), { recursive: true });
    const statusFile = join(f.launcherDir, "server", `${KEY}.json`);
    // The status file appears after the start, as the launcher writes it; the server waits for it.
    const server = Bun.spawn([BINARY, "hashserver", workdir, "--writable", "--port", "0", "--status-file", statusFile], { stdout: "ignore", stderr: "ignore" });
    writeFileSync(statusFile, `{"workdir": "${workdir}", "log": "/dev/null", "command": "hashserver --port 0 ${workdir} --writable", "uid": 0, "pid": ${server.pid}, "status": "starting"}\n`);
    try {
      let port = 0;
      for (let i = 0; i < 500 && !port; i++) {
        try {
          const record = JSON.parse(readFileSync(statusFile, "utf8"));
          if (record.status === "running") port = record.port;
        } catch {}
        if (!port) await Bun.sleep(20);
      }
      expect(port).toBeGreaterThan(0);
      writeFileSync(join(f.launcherDir, "client", `${KEY}.json`), `{"hostname": "localhost", "port": ${port}}\n`);
      writeFileSync(join(f.project, "a.txt"), "shared\n");
      const upload = await runSeamless(["upload", "-v", "a.txt"], { cwd: f.project, env: f.env });
      expect(upload.exitCode).toBe(0);
      expect(upload.stderr).not.toContain("Launched");
      const checksum = readFileSync(join(f.project, "a.txt.CHECKSUM"), "utf8").trim();
      expect(existsSync(join(workdir, checksum.slice(0, 2), checksum))).toBe(true);
    } finally {
      server.kill();
    }
  });

  test("a stale launcher JSON naming a dead pid is replaced by a fresh server", async () => {
    using f = clusterFixture();
    const pid = await deadPid();
    mkdirSync(join(f.launcherDir, "client"), { recursive: true });
    mkdirSync(join(f.launcherDir, "server"), { recursive: true });
    writeFileSync(join(f.launcherDir, "client", `${KEY}.json`), JSON.stringify({ hostname: "127.0.0.1", port: 9 }));
    writeFileSync(join(f.launcherDir, "server", `${KEY}.json`), JSON.stringify({ workdir: "/x", log: "/x.log", command: "hashserver", uid: 0, pid, status: "running", port: 9 }));
    writeFileSync(join(f.project, "a.txt"), "a\n");
    const upload = await runSeamless(["upload", "-v", "a.txt"], { cwd: f.project, env: f.env });
    expect(upload.exitCode).toBe(0);
    const server = readServerJson(f, KEY);
    expect(server.pid).not.toBe(pid);
    expect(server.port).not.toBe(9);
    expect(JSON.parse(readFileSync(join(f.launcherDir, "client", `${KEY}.json`), "utf8")).port).toBe(server.port);
  });

  test("a client JSON marked stale is dropped and the running server is found again", async () => {
    using f = clusterFixture();
    writeFileSync(join(f.project, "a.txt"), "a\n");
    expect((await runSeamless(["upload", "a.txt"], { cwd: f.project, env: f.env })).exitCode).toBe(0);
    const pid = readServerJson(f, KEY).pid;
    writeFileSync(join(f.launcherDir, "client", `${KEY}.json`), JSON.stringify({ status: "stale" }));
    const again = await runSeamless(["resolve", "a.txt.CHECKSUM"], { cwd: f.project, env: f.env });
    expect(again).toMatchObject({ exitCode: 0, stdout: "a\n" });
    expect(readServerJson(f, KEY).pid).toBe(pid);
  });

  test("two clients racing to launch the same server start it once", async () => {
    using f = clusterFixture();
    writeFileSync(join(f.project, "a.txt"), "a\n");
    writeFileSync(join(f.project, "b.txt"), "b\n");
    const [first, second] = await Promise.all([
      runSeamless(["upload", "-v", "a.txt"], { cwd: f.project, env: f.env }),
      runSeamless(["upload", "-v", "b.txt"], { cwd: f.project, env: f.env }),
    ]);
    expect([first.exitCode, second.exitCode]).toEqual([0, 0]);
    const launches = (first.stderr + second.stderr).match(/Launched hashserver/g) ?? [];
    expect(launches.length).toBe(1);
    const resolveA = await runSeamless(["resolve", "a.txt.CHECKSUM"], { cwd: f.project, env: f.env });
    const resolveB = await runSeamless(["resolve", "b.txt.CHECKSUM"], { cwd: f.project, env: f.env });
    expect([resolveA.stdout, resolveB.stdout]).toEqual(["a\n", "b\n"]);
  });

  test("a server that fails to start is reported with its log named, exit 1", async () => {
    // The only port of the range is taken, so the hashserver reports "failed".
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      using f = clusterFixture({
        clusters: `local_cluster: local\nlocal:\n  frontends:\n    - hashserver: {bufferdir: BUFFERS, network_interface: 127.0.0.1, port_start: ${blocker.port}, port_end: ${blocker.port}}\n`,
      });
      writeFileSync(join(f.home, ".seamless", "clusters.yaml"), readFileSync(join(f.home, ".seamless", "clusters.yaml"), "utf8").replace("BUFFERS", join(f.root, "buffers")));
      writeFileSync(join(f.project, "a.txt"), "a\n");
      const upload = await runSeamless(["upload", "a.txt"], { cwd: f.project, env: f.env });
      expect(upload.exitCode).toBe(1);
      const log = join(f.launcherDir, "server", `${KEY}.log`);
      expect(upload.stderr).toContain(`seamless upload: Cannot launch "${KEY}": the server reported failure; see its log "${log}"`);
      expect(upload.stderr).toContain(`No free port available in range ${blocker.port}-${blocker.port}`);
      expect(readServerJson(f, KEY).status).toBe("failed");
      expect(existsSync(join(f.launcherDir, "client", `${KEY}.json`))).toBe(false);
    } finally {
      blocker.stop(true);
    }
  });
});
