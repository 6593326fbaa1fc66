/** A captured stdout printed from the store as a stream equals the whole-buffer formatting (issue 17, item 14). */
import { describe, expect, test } from "bun:test";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { formatCapturedStdout, openCapturedStdout } from "../../../lib/execute/results.ts";
import { CorruptBufferError } from "../../../lib/errors.ts";
import { tempDir } from "../../helpers.ts";
import { rmSync, writeFileSync } from "node:fs";

const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

async function streamed(store: BufferDir, bytes: Uint8Array): Promise<Buffer> {
  const checksum = sha256(bytes);
  await store.put(checksum, bytes);
  const captured = await openCapturedStdout(store, checksum, undefined, 0);
  const parts: Uint8Array[] = [];
  captured!.writeTo((data) => parts.push(Buffer.from(data)));
  return Buffer.concat(parts);
}

describe("openCapturedStdout()", () => {
  test("streams the same bytes formatCapturedStdout() gives, newline runs across chunk borders included", async () => {
    using dir = tempDir();
    const store = new BufferDir(dir.path, { layout: "prefix" });
    store.ensureExists();
    const chunk = 4 * 1024 * 1024;
    const acrossBorder = Buffer.alloc(chunk + 100, 97);
    acrossBorder.fill(10, chunk - 5, chunk + 5); // a newline run that straddles the first read
    const endsAtBorder = Buffer.alloc(chunk * 2, 98);
    endsAtBorder.fill(10, chunk - 3, chunk * 2); // trailing newlines over a whole read
    const cases = ["\n\nabc\n\n\n", "\n\n\n", "abc", "a\n\nb\n", "\nx"].map((text) => Buffer.from(text));
    for (const bytes of [...cases, acrossBorder, endsAtBorder]) {
      expect((await streamed(store, bytes)).equals(Buffer.from(formatCapturedStdout(bytes)))).toBe(true);
    }
  });

  test("a stored result that no longer matches is dropped, never printed", async () => {
    using dir = tempDir();
    const store = new BufferDir(dir.path, { layout: "prefix" });
    store.ensureExists();
    const bytes = Buffer.from("right\n");
    await store.put(sha256(bytes), bytes);
    writeFileSync(store.pathFor(sha256(bytes)), "wrong\n");
    await expect(openCapturedStdout(store, sha256(bytes), undefined, 0)).rejects.toBeInstanceOf(CorruptBufferError);
    expect(store.locate(sha256(bytes))).toBeNull();
  });

  test("a result removed by a concurrent gc: before it is opened, absent (null); once opened, the verified bytes are printed", async () => {
    using dir = tempDir();
    const store = new BufferDir(dir.path, { layout: "prefix" });
    store.ensureExists();
    const bytes = Buffer.from("kept\n");
    const checksum = sha256(bytes);
    await store.put(checksum, bytes);
    const opened = await openCapturedStdout(store, checksum, undefined, 0);
    rmSync(store.pathFor(checksum)); // gc, after the result was opened
    const parts: Uint8Array[] = [];
    opened!.writeTo((data) => parts.push(Buffer.from(data)));
    expect(Buffer.concat(parts).toString()).toBe("kept\n");
    await store.put(checksum, bytes);
    const found = store.locate(checksum)!;
    store.locate = () => found; // gc between finding and opening it
    rmSync(found.path);
    expect(await openCapturedStdout(store, checksum, undefined, 0)).toBeNull();
  });
});
