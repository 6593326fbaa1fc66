import { describe, expect, test } from "bun:test";
import { closeSync, openSync, ftruncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidSidecarError, MAX_CHECKSUM_SIDECAR_BYTES, readChecksumSidecar, readIndexSidecar, readSidecarText } from "../../../lib/checksum/sidecar.ts";
import { runSeamless, scrubbedEnv, tempDir } from "../../helpers.ts";

const CHECKSUM = "a".repeat(64);

describe("bounded sidecar reads (issue 17 item 6)", () => {
  test("readChecksumSidecar() refuses a FIFO instead of waiting on it", () => {
    using dir = tempDir();
    const fifo = join(dir.path, "f.CHECKSUM");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    expect(() => readChecksumSidecar(fifo)).toThrow(InvalidSidecarError);
    expect(() => readChecksumSidecar(fifo)).toThrow("not a regular file");
  });

  test("readChecksumSidecar() refuses a 1 GB file without reading it", () => {
    using dir = tempDir();
    const big = join(dir.path, "g.CHECKSUM");
    const fd = openSync(big, "w");
    ftruncateSync(fd, 1024 ** 3);
    closeSync(fd);
    const rssBefore = process.memoryUsage().rss;
    expect(() => readChecksumSidecar(big)).toThrow(`1073741824 bytes, more than the ${MAX_CHECKSUM_SIDECAR_BYTES}`);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 ** 2);
  });

  test("readSidecarText() reads a regular file within the limit, with comments", () => {
    using dir = tempDir();
    const path = join(dir.path, "ok.CHECKSUM");
    writeFileSync(path, `# comment\n${CHECKSUM}\n`);
    expect(readChecksumSidecar(path)).toBe(CHECKSUM);
    expect(readSidecarText(path, 1000)).toBe(`# comment\n${CHECKSUM}\n`);
    expect(() => readSidecarText(path, 10)).toThrow(InvalidSidecarError);
  });

  test("readIndexSidecar() refuses a directory", () => {
    using dir = tempDir();
    expect(() => readIndexSidecar(dir.path)).toThrow("not a regular file");
  });

  test("seamless download refuses a FIFO named f.CHECKSUM with exit 1", async () => {
    using dir = tempDir();
    expect(Bun.spawnSync(["mkfifo", join(dir.path, "f.CHECKSUM")]).exitCode).toBe(0);
    const result = await runSeamless(["download", "f"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Invalid sidecar "f.CHECKSUM": not a regular file');
  }, 20_000);
});
