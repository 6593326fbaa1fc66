/**
 * End-to-end: 20 kills of `run`, `upload` and `download` at random moments (SIGKILL mostly,
 * SIGTERM/SIGHUP sometimes), then every invariant of issue 17: every buffer hashes to its name,
 * `PRAGMA integrity_check` passes, every sidecar names a stored buffer, no cached result of an
 * unfinished command, and after the next commands no leftover process, workspace, future,
 * registration or temp file.
 */
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { BINARY, processesWithCommandLine, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";

const KILLS = 20;

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

function walk(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}


test(`${KILLS} kills of run, upload and download leave a consistent store and nothing behind`, async () => {
  using dir = tempDir();
  const work = join(dir.path, "work");
  const tmp = join(dir.path, "tmp");
  const cache = join(dir.path, "cache");
  mkdirSync(work);
  mkdirSync(tmp);
  const env = scrubbedEnv(cache, { TMPDIR: tmp });
  const tag = `${Math.floor(Math.random() * 1e9)}`;
  const random = (n: number) => Math.floor(Math.random() * n);

  // A directory uploaded once, downloaded (and killed) again and again.
  mkdirSync(join(work, "shared"));
  for (let f = 0; f < 8; f++) writeFileSync(join(work, "shared", `f${f}.bin`), crypto.getRandomValues(new Uint8Array(512 * 1024)));
  expect((await runSeamless(["upload", "shared"], { cwd: work, env })).exitCode).toBe(0);

  let killedWhileRunning = 0;
  for (let i = 0; i < KILLS; i++) {
    const kind = ["run", "upload", "download"][i % 3]!;
    let args: string[];
    if (kind === "run") {
      writeFileSync(join(work, `in${i}.txt`), `input ${i} ${tag}\n`);
      // The result ends with "done" only if the command ran to its end; an escapee and a
      // double fork hold the pipes, a sleep gives the kill something to interrupt.
      args = ["run", `cat in${i}.txt; setsid sleep 8${i}${tag} & (sleep 9${i}${tag} &); sleep 0.${1 + random(4)}; echo done`];
      if (i % 2) args[1] += ` > out${i}.txt`;
    } else if (kind === "upload") {
      mkdirSync(join(work, `up${i}`));
      for (let f = 0; f < 6; f++) writeFileSync(join(work, `up${i}`, `f${f}.bin`), crypto.getRandomValues(new Uint8Array(256 * 1024)));
      args = ["upload", `up${i}`];
    } else {
      rmSync(join(work, "shared"), { recursive: true, force: true });
      args = ["download", "shared"];
    }
    const child = Bun.spawn([BINARY, ...args], { cwd: work, env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    if (kind === "run" && i % 2 === 0) {
      // Half of the runs are killed while their command runs (parsing a new command line can take a second here).
      for (let wait = 0; wait < 500 && !processesWithCommandLine(`sleep 8${i}${tag}`).length; wait++) await Bun.sleep(20);
      await Bun.sleep(random(300));
    } else await Bun.sleep(random(600));
    if (kind === "run" && processesWithCommandLine(`sleep 8${i}${tag}`).length) killedWhileRunning++;
    child.kill(i % 7 === 3 ? "SIGTERM" : i % 7 === 5 ? "SIGHUP" : "SIGKILL");
    await child.exited;
  }

  expect(killedWhileRunning).toBeGreaterThan(0); // the loop did hit commands at work

  // The next commands: a run (a cache miss), a download of the shared directory.
  const next = await runSeamless(["run", `echo next-${tag}`], { cwd: work, env });
  expect(next.stdout).toBe(`next-${tag}\n`);
  rmSync(join(work, "shared"), { recursive: true, force: true });
  const download = await runSeamless(["download", "shared"], { cwd: work, env });
  expect(download.stderr).toBe("");
  expect(download.exitCode).toBe(0);

  // Every buffer hashes to its name.
  const store = join(cache, "__TOPLEVEL__");
  const buffers = walk(store).filter((path) => /^[0-9a-f]{64}$/.test(path.slice(path.lastIndexOf("/") + 1)));
  expect(buffers.length).toBeGreaterThan(8);
  for (const path of buffers) expect(`${relative(store, path)}: ${sha256(readFileSync(path))}`).toBe(`${relative(store, path)}: ${path.slice(-64)}`);
  const stored = new Set(buffers.map((path) => path.slice(-64)));

  // The databases are intact; every cached result is of a command that ran to its end.
  for (const file of [join(store, "seamless.db"), join(cache, "stat-cache.sqlite")]) {
    if (!existsSync(file)) continue;
    const db = new Database(file, { readonly: true });
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    if (file.endsWith("seamless.db")) {
      for (const { result } of db.query("SELECT result FROM \"transformation\"").all() as { result: string }[]) {
        if (!stored.has(result)) continue; // a result that is only recorded is not served (its buffer is checked first)
        const text = readFileSync(join(store, result.slice(0, 2), result), "utf8");
        if (text.includes(tag) && text.includes("input")) expect(text.trimEnd().endsWith("done")).toBe(true);
      }
    }
    db.close();
  }

  // Every sidecar names a stored buffer; the shared directory came back whole.
  for (const path of walk(work).filter((p) => p.endsWith(".CHECKSUM"))) {
    const checksum = readFileSync(path, "utf8").trim();
    expect(`${relative(work, path)} ${stored.has(checksum)}`).toBe(`${relative(work, path)} true`);
  }
  expect(readdirSync(join(work, "shared")).sort()).toEqual(Array.from({ length: 8 }, (_, f) => `f${f}.bin`));

  // Nothing left behind.
  expect(processesWithCommandLine(tag, false)).toEqual([]);
  expect(readdirSync(tmp)).toEqual([]);
  expect(walk(work).filter((p) => p.endsWith(".FUTURE"))).toEqual([]);
  expect(walk(cache).filter((p) => p.endsWith(".tmp"))).toEqual([]);
  expect(walk(join(work, "shared")).filter((p) => p.endsWith(".tmp"))).toEqual([]);
  expect(existsSync(join(cache, "futures")) ? readdirSync(join(cache, "futures")) : []).toEqual([]);
  expect(existsSync(join(cache, "writers")) ? readdirSync(join(cache, "writers")) : []).toEqual([]);
}, 90_000);
