import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureService, keepAlive, LaunchError, startServiceHere } from "../../../lib/launcher/mod.ts";
import { checkRunningRecord, decodeClientRecord } from "../../../lib/wire/launcher.ts";
import type { LaunchPlan } from "../../../lib/config/mod.ts";
import { BINARY, tempDir } from "../../helpers.ts";
import { createMemoryLog } from "../../../lib/log.ts";

setDefaultTimeout(30_000);
const dir = tempDir("seamless-launcher-");
const launched: number[] = [];
afterAll(() => {
  for (const pid of launched) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  dir[Symbol.dispose]();
});

describe("launcher files (services-spec §5.2)", () => {
  test("checkRunningRecord() applies the launcher's checks", () => {
    const good = { port: 5000, command: "hashserver x", uid: 0, pid: 12 };
    expect(checkRunningRecord(good)).toBeNull();
    expect(checkRunningRecord({ ...good, port: 70000 })).toBe("port is not an integer in 1..65535");
    expect(checkRunningRecord({ ...good, command: "" })).toBe("command is not a non-empty string");
    expect(checkRunningRecord({ ...good, pid: "12" })).toBe("uid or pid is not an integer");
    expect(checkRunningRecord({ ...good, parameters: [] })).toBe("parameters is not a mapping");
  });

  test("decodeClientRecord() accepts a stale marker and refuses garbage", () => {
    expect(decodeClientRecord('{"hostname":"localhost","port":8000}')).toEqual({ hostname: "localhost", port: 8000 });
    expect(decodeClientRecord('{"status":"stale"}')?.status).toBe("stale");
    expect(decodeClientRecord('{"hostname":"h"}')).toBeNull();
    expect(decodeClientRecord("not json")).toBeNull();
  });
});

describe("startServiceHere() and ensureService()", () => {
  const base = { launcherDir: join(dir.path, "rhl"), executable: [BINARY], home: dir.path };

  test("refuses an invalid key and a service that is not launchable, starting nothing", async () => {
    await expect(startServiceHere({ ...base, key: "a/b", workdir: "/tmp", args: ["hashserver"] })).rejects.toThrow('Cannot launch "a/b": invalid key');
    await expect(startServiceHere({ ...base, key: "k", workdir: "/tmp", args: ["rm", "-rf", "/"] })).rejects.toThrow(LaunchError);
    expect(existsSync(join(base.launcherDir, "server", "k.json"))).toBe(false);
  });

  test("two concurrent starts of one key launch one server; a later ensureService reuses it", async () => {
    const workdir = join(dir.path, "buffers");
    const args = ["hashserver", "--port", "0", "--status-file", "{status_file}", "--timeout", "60", workdir, "--writable"];
    const { log, lines: said } = createMemoryLog();
    const [a, b] = await Promise.all([
      startServiceHere({ ...base, key: "hashserver-t-rw-p", workdir, args, log }),
      startServiceHere({ ...base, key: "hashserver-t-rw-p", workdir, args, log }),
    ]);
    launched.push(a.pid);
    expect(a.pid).toBe(b.pid);
    expect(said.filter((t) => t.startsWith("Launched")).length).toBe(1);
    expect(statSync(join(base.launcherDir, "server", "hashserver-t-rw-p.json")).mode & 0o777).toBe(0o600);
    const plan: LaunchPlan = {
      service: "hashserver", key: "hashserver-t-rw-p", cluster: "t", mode: "rw", workdir, args, local: true, hostname: null, sshHostname: null,
      tunnel: false, networkInterface: null, seamlessBinary: "seamless", timeoutSeconds: 60,
    };
    const context = { ...base, sshConfigFile: null, log };
    const url = await ensureService(plan, context);
    expect(url).toBe(`http://localhost:${a.port}`);
    expect(JSON.parse(readFileSync(join(base.launcherDir, "client", "hashserver-t-rw-p.json"), "utf8"))).toEqual({ hostname: "localhost", port: a.port });
    expect(await ensureService(plan, context)).toBe(url);
    expect(said.filter((t) => t.startsWith("Launched")).length).toBe(1);
  });

  test("a service whose binary exits at once is reported with its log", async () => {
    const workdir = join(dir.path, "missing-dir-arg");
    const error = await startServiceHere({ ...base, key: "hashserver-t-rw-bad", workdir, args: ["hashserver", "--status-file", "{status_file}", "--bogus-flag"] }).catch((e) => e);
    expect(error).toBeInstanceOf(LaunchError);
    expect(error.message).toContain(`see its log "${join(base.launcherDir, "server", "hashserver-t-rw-bad.log")}"`);
    expect(error.message).toContain("unrecognized argument: --bogus-flag");
  });
});

describe("keepAlive()", () => {
  test("pings /healthcheck periodically, once per URL, until stopped", async () => {
    let pings = 0;
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (new URL(req.url).pathname === "/healthcheck" && pings++, new Response("OK")) });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      const stop = keepAlive(url, 40);
      const again = keepAlive(url, 40); // a second client of the same server adds no timer
      for (const deadline = Date.now() + 10_000; pings < 3 && Date.now() < deadline; ) await Bun.sleep(20);
      expect(pings).toBeGreaterThanOrEqual(3);
      // Only the first client stops: had the second started a timer of its own, pings would go on.
      stop();
      await Bun.sleep(500); // a ping sent just before the stop may still be on its way
      const seen = pings;
      await Bun.sleep(400); // ten intervals
      expect(pings).toBe(seen);
      again();
    } finally {
      server.stop(true);
    }
  });
});
