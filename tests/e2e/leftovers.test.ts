/**
 * End-to-end: temp files of killed commands are never user data and are cleaned up by a later
 * command (issue 17 items 8, 9); a command exits as soon as its work is done (item 8a).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { computeChecksum } from "../../lib/checksum/sha256.ts";

/** A pid above any pid_max: its process is certainly gone. */
const DEAD_PID = 99_999_999;

describe("temp files of killed commands (issue 17 items 8, 9)", () => {
  test("an interrupted directory download is resumed by running it again", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "d"));
    writeFileSync(join(dir.path, "d/a.txt"), "alpha\n");
    writeFileSync(join(dir.path, "d/b.txt"), "beta\n");
    expect((await runSeamless(["upload", "d"], { cwd: dir.path, env })).exitCode).toBe(0);
    rmSync(join(dir.path, "d/b.txt"));
    // What a download killed while writing b.txt leaves, and one of a download still running.
    writeFileSync(join(dir.path, `d/.b.txt.${DEAD_PID}.1.tmp`), "be");
    writeFileSync(join(dir.path, `d/.a.txt.${process.pid}.3.tmp`), "al");
    const result = await runSeamless(["download", "d"], { cwd: dir.path, env });
    expect(result.stderr).not.toContain("unlisted");
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "d/b.txt"), "utf8")).toBe("beta\n");
    expect(existsSync(join(dir.path, `d/.b.txt.${DEAD_PID}.1.tmp`))).toBe(false);
    expect(existsSync(join(dir.path, `d/.a.txt.${process.pid}.3.tmp`))).toBe(true); // a live writer's
  }, 20_000);

  test("a rerun of a single-file download removes the temp file a killed one left next to the target", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "f.txt"), "file\n");
    expect((await runSeamless(["upload", "f.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    rmSync(join(dir.path, "f.txt"));
    writeFileSync(join(dir.path, `.f.txt.${DEAD_PID}.1.tmp`), "fi");
    const result = await runSeamless(["download", "f.txt"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "f.txt"), "utf8")).toBe("file\n");
    expect(readdirSync(dir.path).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  }, 20_000);

  test("temp files a dead writer left in the cache are removed by the next command, a live writer's are kept", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "x.txt"), "x\n");
    expect((await runSeamless(["upload", "x.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    const prefixDir = join(cache, "__TOPLEVEL__", "ab");
    mkdirSync(prefixDir, { recursive: true });
    mkdirSync(join(cache, "writers"), { recursive: true });
    writeFileSync(join(cache, "writers", `${DEAD_PID}-1`), "");
    writeFileSync(join(prefixDir, `.${"ab".repeat(32)}.${DEAD_PID}.1.tmp`), "half");
    writeFileSync(join(prefixDir, `.${"ab".repeat(32)}.${DEAD_PID}-w1.2.tmp`), "half");
    writeFileSync(join(prefixDir, `.${"cd".repeat(32)}.${process.pid}.1.tmp`), "live");
    const result = await runSeamless(["run", "echo hi"], { cwd: dir.path, env });
    expect(result.stdout).toBe("hi\n");
    expect(readdirSync(prefixDir)).toEqual([`.${"cd".repeat(32)}.${process.pid}.1.tmp`]);
    expect(readdirSync(join(cache, "writers"))).toEqual([]); // the dead registration is gone, and ours
  }, 20_000);
});

describe("sidecar temp files of a killed upload", () => {
  test("are removed beside the inputs by the next command; a live writer's and look-alikes stay", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    mkdirSync(join(dir.path, "in"));
    writeFileSync(join(dir.path, "in", "a.txt"), "a\n");
    // An upload killed once it has noted where its sidecars go, before it writes them: it blocks
    // verifying a destination entry that is a FIFO.
    mkdirSync(join(dir.path, "dest"));
    const fifo = join(dir.path, "dest", computeChecksum("a\n"));
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const upload = Bun.spawn([BINARY, "upload", "--destination", "dest", "--dest-verify", "in/a.txt"], { cwd: dir.path, env, stdout: "ignore", stderr: "ignore" });
    const registration = join(cache, "writers");
    let noted = "";
    for (let i = 0; i < 500 && !noted.includes(join(dir.path, "in")); i++) {
      await Bun.sleep(20);
      for (const name of existsSync(registration) ? readdirSync(registration) : []) noted += readFileSync(join(registration, name), "utf8");
    }
    expect(noted).toBe(`${join(dir.path, "in")}\n`);
    upload.kill("SIGKILL");
    await upload.exited;
    // What it would have left mid-write, next to a live writer's temp file and a user file.
    const killed = upload.pid;
    const left = [`.a.txt.CHECKSUM.${killed}.1.tmp`, `.b.txt.CHECKSUM.${killed}.2.tmp`];
    const kept = [`.a.txt.CHECKSUM.${process.pid}.1.tmp`, `a.txt.${killed}.1.tmp`, `.notes.${killed}.txt`];
    for (const name of [...left, ...kept]) writeFileSync(join(dir.path, "in", name), "x");
    rmSync(fifo);
    const next = await runSeamless(["upload", "in/a.txt"], { cwd: dir.path, env });
    expect(next.exitCode).toBe(0);
    expect(readdirSync(join(dir.path, "in")).toSorted()).toEqual(["a.txt", "a.txt.CHECKSUM", ...kept].toSorted());
    expect(readdirSync(registration)).toEqual([]);
  }, 30_000);
});

describe("a command exits when its work is done (issue 17 item 8a)", () => {
  test("run and download with --hashserver exit although keep-alive connections are open", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "buffers"));
    const statusFile = join(dir.path, "status.json");
    writeFileSync(statusFile, JSON.stringify({ workdir: dir.path, status: "starting" }));
    const server = Bun.spawn([BINARY, "hashserver", join(dir.path, "buffers"), "--writable", "--port-range", "20000", "40000", "--status-file", statusFile], { env, stdout: "ignore", stderr: "ignore" });
    try {
      let port = 0;
      for (let i = 0; i < 500 && !port; i++) {
        try {
          const status = JSON.parse(readFileSync(statusFile, "utf8"));
          if (status.status === "running") port = status.port;
        } catch {}
        if (!port) await Bun.sleep(20);
      }
      expect(port).toBeGreaterThan(0);
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 3; i++) {
        writeFileSync(join(dir.path, `in${i}.txt`), `input ${i}\n`);
        const run = await runSeamless(["run", "--hashserver", url, `cat in${i}.txt > out${i}.txt`], { cwd: dir.path, env });
        expect(run.exitCode).toBe(0);
        rmSync(join(dir.path, `out${i}.txt`));
        const download = await runSeamless(["download", "--hashserver", url, `out${i}.txt`], { cwd: dir.path, env });
        expect(download.exitCode).toBe(0);
        expect(readFileSync(join(dir.path, `out${i}.txt`), "utf8")).toBe(`input ${i}\n`);
      }
    } finally {
      server.kill();
      await server.exited;
    }
  }, 25_000);
});
