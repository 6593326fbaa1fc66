import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BatchedFileWriter } from "../../../lib/buffers/batched-writer.ts";
import { tempDir } from "../../helpers.ts";

test("background batches land at their offsets, whatever the chunk sizes", async () => {
  using dir = tempDir();
  const path = join(dir.path, "out.bin");
  const expected = new Uint8Array(11 * 1024 * 1024 + 123);
  for (let i = 0; i < expected.length; i++) expected[i] = (i * 31 + (i >> 13)) & 0xff;
  const writer = new BatchedFileWriter(path);
  // Chunks from 1 byte to 5 MiB: some fill batches exactly, some straddle two or three.
  const sizes = [1, 65536, 3 * 1024 * 1024, 5 * 1024 * 1024, 7, 4 * 1024 * 1024];
  let offset = 0;
  for (let i = 0; offset < expected.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, expected.length - offset);
    writer.write(expected.subarray(offset, offset + n));
    offset += n;
  }
  await writer.close();
  expect(Buffer.from(readFileSync(path)).equals(Buffer.from(expected))).toBe(true);
});

test("discard waits for writes in flight and leaves no file", async () => {
  using dir = tempDir();
  const path = join(dir.path, "out.bin");
  const writer = new BatchedFileWriter(path);
  writer.write(new Uint8Array(9 * 1024 * 1024));
  await writer.discard();
  expect(existsSync(path)).toBe(false);
});
