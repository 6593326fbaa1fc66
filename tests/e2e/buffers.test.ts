/** End-to-end: the compiled binary moving buffers, as a user runs it. */
import { describe, expect, test, beforeAll } from "bun:test";
import { existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync, chmodSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";
import { VECTORS } from "../fixtures/spec-vectors.ts";

const computeChecksumOf = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error("dist/seamless is missing: run `npm run build` first (npm test does)");
});

describe("seamless (global)", () => {
  test("--version and --help", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const version = await runSeamless(["--version"], { cwd: dir.path, env });
    expect(version.stdout).toMatch(/^seamless \d+\.\d+\.\d+\n$/);
    const help = await runSeamless(["--help"], { cwd: dir.path, env });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("upload");
    for (const command of ["run", "run-transformation", "checksum", "upload", "download", "resolve", "hashserver"]) {
      const result = await runSeamless([command, "--help"], { cwd: dir.path, env });
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toStartWith(`Usage: seamless ${command}`);
    }
  });
  test("a .env or bunfig.toml in the working directory changes nothing and runs nothing", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    writeFileSync(join(dir.path, ".env"), `SEAMLESS_CACHE=${join(dir.path, "from-dotenv")}\n`);
    writeFileSync(join(dir.path, "bunfig.toml"), 'preload = ["./preload.js"]\n');
    writeFileSync(join(dir.path, "preload.js"), `require("fs").writeFileSync(${JSON.stringify(join(dir.path, "PRELOADED"))}, "x");\n`);
    writeFileSync(join(dir.path, "a.txt"), "a\n");
    const upload = await runSeamless(["upload", "-q", "a.txt"], { cwd: dir.path, env: scrubbedEnv(cache) });
    expect(upload.exitCode).toBe(0);
    expect(existsSync(join(dir.path, "PRELOADED"))).toBe(false);
    expect(existsSync(join(dir.path, "from-dotenv"))).toBe(false);
    expect(existsSync(join(cache, "__TOPLEVEL__"))).toBe(true);
  });
  test("an unknown command or flag is a usage error (exit 2)", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    expect((await runSeamless(["frobnicate"], { cwd: dir.path, env })).exitCode).toBe(2);
    const bad = await runSeamless(["upload", "--frob", "x"], { cwd: dir.path, env });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("unrecognized argument: --frob");
  });
});

describe("seamless checksum / upload / download / resolve", () => {
  test("checksum prints sha256sum-style lines and --write writes sidecars", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "h.txt"), "hello\n");
    const result = await runSeamless(["checksum", "--write", "h.txt"], { cwd: dir.path, env });
    expect(result.stdout).toBe(`${VECTORS.hello}  h.txt\n`);
    expect(readFileSync(join(dir.path, "h.txt.CHECKSUM"), "utf8")).toBe(`${VECTORS.hello}\n`);
  });

  test("upload writes sidecars and the Python SEAMLESS_CACHE layout; download restores files", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    mkdirSync(join(dir.path, "d/sub"), { recursive: true });
    writeFileSync(join(dir.path, "d/sub/x.txt"), "hello\n");
    writeFileSync(join(dir.path, "f.txt"), "hello\n");
    const up = await runSeamless(["upload", "f.txt", "d/"], { cwd: dir.path, env });
    expect(up.exitCode).toBe(0);
    const index = `{\n  "sub/x.txt": "${VECTORS.hello}"\n}\n`;
    expect(readFileSync(join(dir.path, "d.INDEX"), "utf8")).toBe(index);
    const indexChecksum = new Bun.CryptoHasher("sha256").update(index).digest("hex");
    expect(readFileSync(join(dir.path, "d.CHECKSUM"), "utf8")).toBe(`${indexChecksum}\n`);
    expect(readFileSync(join(cache, "__TOPLEVEL__", VECTORS.hello.slice(0, 2), VECTORS.hello), "utf8")).toBe("hello\n");
    expect(existsSync(join(cache, "__TOPLEVEL__", ".HASHSERVER_PREFIX"))).toBe(true);

    await Bun.$`rm -rf ${join(dir.path, "d")} ${join(dir.path, "f.txt")}`;
    const down = await runSeamless(["download", "f.txt", "d"], { cwd: dir.path, env });
    expect(down.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "f.txt"), "utf8")).toBe("hello\n");
    expect(readFileSync(join(dir.path, "d/sub/x.txt"), "utf8")).toBe("hello\n");

    const resolved = await runSeamless(["resolve", "f.txt.CHECKSUM"], { cwd: dir.path, env });
    expect(resolved.stdout).toBe("hello\n");
    const stdout = await runSeamless(["download", "--stdout", VECTORS.hello], { cwd: dir.path, env });
    expect(stdout.stdout).toBe("hello\n");
  });

  test("many large files are hashed on worker threads inside the binary (checksum and upload)", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "big"));
    const expected: string[] = [];
    for (const [i, name] of ["big/one.bin", "big/two.bin"].entries()) {
      const data = new Uint8Array(40 * 1024 * 1024).fill(i + 1);
      data[12345] = 99;
      writeFileSync(join(dir.path, name), data);
      expected.push(computeChecksumOf(data));
    }
    const result = await runSeamless(["checksum", "--no-stat-cache", "big/one.bin", "big/two.bin"], { cwd: dir.path, env });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`${expected[0]}  big/one.bin\n${expected[1]}  big/two.bin\n`);
    const up = await runSeamless(["upload", "big"], { cwd: dir.path, env });
    expect(up.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "big.INDEX"), "utf8")).toBe(`{\n  "one.bin": "${expected[0]}",\n  "two.bin": "${expected[1]}"\n}\n`);
  });

  test("many new small files are shared with the upload helper thread: every buffer and sidecar is right", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "many"));
    const names: string[] = [];
    const checksums: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const data = new TextEncoder().encode(`file ${i}\n`.repeat(i % 7 === 0 ? 1 : 3));
      const name = `many/f${i}.txt`;
      writeFileSync(join(dir.path, name), data);
      names.push(name);
      checksums.push(computeChecksumOf(data));
    }
    await Bun.sleep(60); // past the stat cache's racy-timestamp margin: what is hashed now is trusted later
    const up = await runSeamless(["upload", ...names], { cwd: dir.path, env });
    expect(up.exitCode).toBe(0);
    const distinct = new Set(checksums);
    expect(up.stderr).toContain(`Upload ${distinct.size} files`);
    for (const [i, name] of names.entries()) {
      const checksum = checksums[i]!;
      expect(readFileSync(join(dir.path, `${name}.CHECKSUM`), "utf8")).toBe(`${checksum}\n`);
      expect(readFileSync(join(dir.path, "cache/__TOPLEVEL__", checksum.slice(0, 2), checksum), "utf8")).toBe(readFileSync(join(dir.path, name), "utf8"));
    }
    const leftovers = readdirSync(join(dir.path, "cache/__TOPLEVEL__"), { recursive: true }).filter((entry) => String(entry).endsWith(".tmp"));
    expect(leftovers).toEqual([]);

    // Again, with one file changed (same size), one buffer gone, one sidecar wrong and one
    // missing: the stat cache knows the tree as a whole, the helper reads the sidecars ahead,
    // and all four must be noticed.
    const changed = new TextEncoder().encode("file 1\nfile 1\nfile X\n");
    writeFileSync(join(dir.path, names[1]!), changed);
    rmSync(join(dir.path, "cache/__TOPLEVEL__", checksums[2]!.slice(0, 2), checksums[2]!));
    writeFileSync(join(dir.path, `${names[3]}.CHECKSUM`), `${checksums[4]}\n`);
    rmSync(join(dir.path, `${names[4]}.CHECKSUM`));
    const untouched = statSync(join(dir.path, `${names[5]}.CHECKSUM`)).ino;
    const again = await runSeamless(["upload", ...names], { cwd: dir.path, env });
    expect(again.exitCode).toBe(0);
    expect(readFileSync(join(dir.path, `${names[1]}.CHECKSUM`), "utf8")).toBe(`${computeChecksumOf(changed)}\n`);
    for (const i of [3, 4]) expect(readFileSync(join(dir.path, `${names[i]}.CHECKSUM`), "utf8")).toBe(`${checksums[i]}\n`);
    expect(statSync(join(dir.path, `${names[5]}.CHECKSUM`)).ino).toBe(untouched);
    for (const checksum of [computeChecksumOf(changed), checksums[2]!]) {
      expect(existsSync(join(dir.path, "cache/__TOPLEVEL__", checksum.slice(0, 2), checksum))).toBe(true);
    }
  });

  test("a missing buffer exits 1 and names the checksum", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "gone.txt.CHECKSUM"), `${VECTORS.hello}\n`);
    const result = await runSeamless(["download", "gone.txt"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(VECTORS.hello);
    expect(existsSync(join(dir.path, "gone.txt"))).toBe(false);
  });

  test("a malformed .CHECKSUM is a clear error", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "x.CHECKSUM"), "not a checksum\n");
    const result = await runSeamless(["download", "x"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Invalid checksum file "x.CHECKSUM"');
  });

  test("an .INDEX with a .. key is refused and nothing is written outside", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "evil.INDEX"), `{"../escape.txt": "${VECTORS.hello}"}\n`);
    const result = await runSeamless(["download", "evil"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Unsafe path");
    expect(existsSync(join(dir.path, "..", "escape.txt"))).toBe(false);
  });

  test("a buffer corrupted on disk is an error, never wrong bytes", async () => {
    using dir = tempDir();
    const cache = join(dir.path, "cache");
    const env = scrubbedEnv(cache);
    writeFileSync(join(dir.path, "f.txt"), "hello\n");
    await runSeamless(["upload", "f.txt"], { cwd: dir.path, env });
    const stored = join(cache, "__TOPLEVEL__", VECTORS.hello.slice(0, 2), VECTORS.hello);
    chmodSync(stored, 0o600);
    writeFileSync(stored, "HELLO\n");
    await Bun.$`rm ${join(dir.path, "f.txt")}`;
    const result = await runSeamless(["download", "f.txt"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("corrupt");
    expect(existsSync(join(dir.path, "f.txt"))).toBe(false);
    expect(readdirSync(dir.path).filter((name) => name.includes(".tmp"))).toEqual([]);
  });

  test("an unreachable server gives one clear line and exit 1", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    writeFileSync(join(dir.path, "f.txt"), "hello\n");
    const result = await runSeamless(["upload", "--hashserver", "http://127.0.0.1:9", "f.txt"], { cwd: dir.path, env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("Cannot reach buffer server http://127.0.0.1:9: connection refused");
    expect(result.stderr).not.toContain("    at ");
  });
});

describe("interrupted transfers", () => {
  test("a download cut off half way leaves no file under the final name and no temp file", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    // A server that promises 1000 bytes, sends 10 and hangs up.
    const server = (await import("node:net")).createServer((socket) => {
      socket.once("data", (request) => {
        if (request.toString().startsWith("GET /healthcheck")) {
          socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
          return;
        }
        if (request.toString().startsWith("GET /buffer-length")) {
          socket.end("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n[1000]");
          return;
        }
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n0123456789");
        setTimeout(() => socket.destroy(), 50);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as { port: number }).port;
    try {
      writeFileSync(join(dir.path, "f.txt.CHECKSUM"), `${VECTORS.hello}\n`);
      const result = await runSeamless(["download", "--hashserver", `http://127.0.0.1:${port}`, "f.txt"], { cwd: dir.path, env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain("ended after 10 of 1000 bytes");
      expect(existsSync(join(dir.path, "f.txt"))).toBe(false);
      expect(readdirSync(dir.path).filter((name) => name !== "cache")).toEqual(["f.txt.CHECKSUM"]);
    } finally {
      server.close();
    }
  }, 20_000);
});

describe("seamless hashserver", () => {
  test("boots on a port range, writes the status file, serves upload/download, stops when idle", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    mkdirSync(join(dir.path, "buffers"));
    const statusFile = join(dir.path, "status.json");
    writeFileSync(statusFile, JSON.stringify({ workdir: dir.path, status: "starting" }));
    const server = Bun.spawn([BINARY, "hashserver", "buffers", "--writable", "--port-range", "41000", "41999", "--status-file", statusFile, "--timeout", "3"], {
      cwd: dir.path, env, stdout: "pipe", stderr: "pipe",
    });
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 100 && status.status !== "running"; i++) {
      await Bun.sleep(50);
      status = JSON.parse(readFileSync(statusFile, "utf8"));
    }
    expect(status.status).toBe("running");
    expect(status.workdir).toBe(dir.path);
    const port = status.port as number;
    expect(port).toBeGreaterThanOrEqual(41000);
    expect(readFileSync(statusFile, "utf8")).toBe(`{"workdir": ${JSON.stringify(dir.path)}, "status": "running", "port": ${port}}\n`);

    const url = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir.path, "f.txt"), "hello\n");
    expect((await runSeamless(["upload", "--hashserver", url, "f.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "buffers", VECTORS.hello.slice(0, 2), VECTORS.hello), "utf8")).toBe("hello\n");
    await Bun.$`rm ${join(dir.path, "f.txt")}`;
    expect((await runSeamless(["download", "--hashserver", url, "f.txt"], { cwd: dir.path, env })).exitCode).toBe(0);
    expect(readFileSync(join(dir.path, "f.txt"), "utf8")).toBe("hello\n");
    const resolved = await runSeamless(["resolve", VECTORS.hello], { cwd: dir.path, env: { ...env, SEAMLESS_HASHSERVER: url } });
    expect(resolved.stdout).toBe("hello\n");
    expect(await server.exited).toBe(0);
  }, 20_000);
});
