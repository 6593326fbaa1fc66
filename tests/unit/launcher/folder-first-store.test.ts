import { expect, test } from "bun:test";
import { join } from "node:path";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { FolderFirstStore } from "../../../lib/buffers/folder-first-store.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { tempDir } from "../../helpers.ts";

test("FolderFirstStore reads the folder first, asks the server for the rest, writes to the server", async () => {
  using dir = tempDir();
  const folder = new BufferDir(join(dir.path, "folder"), { layout: "prefix" });
  const server = new BufferDir(join(dir.path, "server"), { layout: "prefix" });
  folder.ensureExists();
  server.ensureExists();
  const [a, b, c] = ["a\n", "b\n", "c\n"].map((text) => ({ bytes: new TextEncoder().encode(text), checksum: computeChecksum(text) }));
  await folder.put(a!.checksum, a!.bytes);
  await server.put(b!.checksum, b!.bytes);
  const store = new FolderFirstStore(folder, server);
  expect(await store.has([a!.checksum, b!.checksum, c!.checksum])).toEqual([true, true, false]);
  expect(await store.lengths([c!.checksum, b!.checksum, a!.checksum])).toEqual([null, 2, 2]);
  expect(new TextDecoder().decode((await store.get(b!.checksum))!)).toBe("b\n");
  expect(await store.get(c!.checksum)).toBeNull();
  await store.put(c!.checksum, c!.bytes);
  expect(await server.has([c!.checksum])).toEqual([true]);
  expect(await folder.has([c!.checksum])).toEqual([false]);
});
