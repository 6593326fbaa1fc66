/** The store never holds wrong bytes: short writes, full disks, corrupt buffers (issue 17, items 1, 2, 13). */
import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeWriteError, writeAllSync, writeFileAtomic } from "../../../lib/disk/atomic-write.ts";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { createHashserverHandler } from "../../../lib/servers/hashserver.ts";
import { makeServiceRequest, withErrorHandling } from "../../../lib/servers/http.ts";
import { ChecksumMismatchError, CorruptBufferError, DiskWriteError } from "../../../lib/errors.ts";
import { mountSmallTmpfs, storeIsSound, tempDir, tmpfsUnavailable } from "../../helpers.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

const sha256 = (bytes: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

describe("writers on a full disk", () => {
  test("writeAllSync() fails with ENOSPC on a full device instead of dropping bytes", () => {
    const fd = openSync("/dev/full", "w");
    try {
      expect(() => writeAllSync(fd, new Uint8Array(1000))).toThrow(/ENOSPC|no space/i);
    } finally {
      closeSync(fd);
    }
  });

  test("describeWriteError() names the cause and the path in one line", () => {
    const error = describeWriteError(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), "/cache/ab/abc");
    expect(error).toBeInstanceOf(DiskWriteError);
    expect((error as Error).message).toBe('No space left on device: cannot write "/cache/ab/abc"');
    const other = new Error("boom");
    expect(describeWriteError(other, "/x")).toBe(other);
  });

  const reason = tmpfsUnavailable();
  test.skipIf(reason !== "")("a buffer larger than the free space is never committed, in any writer (tmpfs of 2 MiB)", async () => {
    const small = mountSmallTmpfs(2);
    if ("reason" in small) throw new Error(small.reason);
    using _ = small;
    const store = new BufferDir(join(small.path, "store"), { layout: "prefix" });
    store.ensureExists();
    const big = new Uint8Array(3 * 1024 * 1024).fill(7);
    const checksum = sha256(big);
    // every way a buffer gets into a local store
    expect(() => store.putSync(checksum, big)).toThrow(DiskWriteError);
    expect(() => store._putHashedSync(checksum, big)).toThrow('No space left on device: cannot write "');
    await expect(store._putHashedAsync(checksum, big)).rejects.toThrow(DiskWriteError);
    using sourceDir = tempDir();
    const source = join(sourceDir.path, "big.bin");
    writeFileSync(source, big);
    expect(() => store.putFileSync(checksum, source)).toThrow(/^No space left on device: cannot write ".*\/store\/..\/[0-9a-f]{64}"$/);
    expect(() => writeFileAtomic(join(small.path, "sidecar"), big)).toThrow(DiskWriteError);
    // nothing under the checksum, no temp file left, the store sound
    expect(store.locate(checksum)).toBeNull();
    expect(readdirSync(join(small.path, "store", checksum.slice(0, 2)))).toEqual([]);
    expect(readdirSync(small.path).sort()).toEqual(["store"]);
    expect(storeIsSound(join(small.path, "store")).ok).toBe(true);
    // the hashserver answers 507 with a body, not an empty 400, and stores nothing
    const handle = withErrorHandling(createHashserverHandler({ directory: join(small.path, "store"), writable: true, layout: "prefix" }), SILENT_LOG);
    const put = await handle(makeServiceRequest("PUT", `/${checksum}`, big));
    expect(put.status).toBe(507);
    expect(JSON.parse(String(put.body)).message).toStartWith("No space left on device: cannot write");
    expect(store.locate(checksum)).toBeNull();
    expect(readdirSync(join(small.path, "store", checksum.slice(0, 2)))).toEqual([]);
  });
});

describe("corrupt buffers and changing sources", () => {
  test("BufferDir.get() drops a buffer whose bytes no longer match its name", async () => {
    using dir = tempDir();
    const store = new BufferDir(dir.path, { layout: "prefix" });
    store.ensureExists();
    const checksum = sha256("b\na\nc\n");
    await store.put(checksum, Buffer.from("b\na\nc\n"));
    writeFileSync(store.pathFor(checksum), "a\nb\nc\n"); // as a command writing through a link would
    await expect(store.get(checksum)).rejects.toBeInstanceOf(CorruptBufferError);
    expect(existsSync(store.pathFor(checksum))).toBe(false);
    expect(await store.get(checksum)).toBeNull();
  });

  test("BufferDir.getToFile() drops a corrupt buffer and writes nothing", async () => {
    using dir = tempDir();
    const store = new BufferDir(join(dir.path, "s"), { layout: "prefix" });
    store.ensureExists();
    const checksum = sha256("precious\n");
    await store.put(checksum, Buffer.from("precious\n"));
    writeFileSync(store.pathFor(checksum), "EVILious\n");
    const error = await store.getToFile(checksum, join(dir.path, "out.txt")).catch((e) => e);
    expect(error).toBeInstanceOf(CorruptBufferError);
    expect(error.message).toContain("has been removed from the store");
    expect(existsSync(join(dir.path, "out.txt"))).toBe(false);
    expect(store.locate(checksum)).toBeNull();
  });

  test("putFileSync() of a file that changed since it was hashed says the file changed, not that a buffer is corrupt", () => {
    using dir = tempDir();
    const store = new BufferDir(join(dir.path, "s"), { layout: "prefix" });
    store.ensureExists();
    const file = join(dir.path, "f.txt");
    writeFileSync(file, "first\n");
    const planned = sha256("first\n");
    writeFileSync(file, "second\n"); // changed between planning and storing
    let error: Error | undefined;
    try {
      store.putFileSync(planned, file);
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error!.message).toStartWith(`File "${file}" changed while it was being stored`);
    expect(error!.message).not.toContain("corrupt");
    expect(store.locate(planned)).toBeNull();
  });
});

describe("a buffer removed between finding and reading it (a concurrent gc)", () => {
  test("get(), getSync() and getToFile() answer absent, not a raw ENOENT", async () => {
    using dir = tempDir();
    const store = new BufferDir(join(dir.path, "buffers"), { layout: "prefix" });
    store.ensureExists();
    const bytes = new TextEncoder().encode("removed by gc\n");
    const checksum = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    await store.put(checksum, bytes);
    const found = store.locate(checksum)!;
    // The race made deterministic: the file is gone, the lookup still names it.
    store.locate = () => found;
    rmSync(found.path);
    expect(store.getSync(checksum)).toBeNull();
    expect(await store.get(checksum)).toBeNull();
    expect(await store.getToFile(checksum, join(dir.path, "out"))).toBe(false);
    expect(existsSync(join(dir.path, "out"))).toBe(false);
  });
});
