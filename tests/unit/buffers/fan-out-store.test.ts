/** FanOutBufferStore and the buffer clients of SEAMLESS_REMOTE_CLIENTS (services-spec §6.2, §6.5). */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { FanOutBufferStore } from "../../../lib/buffers/fan-out-store.ts";
import { HttpBufferStore } from "../../../lib/buffers/http-store.ts";
import { resolveConfig } from "../../../lib/config/mod.ts";
import { openBufferStoreFor } from "../../../lib/delegation/mod.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { tempDir } from "../../helpers.ts";

describe("FanOutBufferStore", () => {
  test("reads ask the stores in order, first hit wins; writes reach every writer", async () => {
    using dir = tempDir();
    const folder = new BufferDir(join(dir.path, "folder"), { layout: "prefix" });
    const server = new BufferDir(join(dir.path, "server"), { layout: "flat" });
    folder.ensureExists();
    server.ensureExists();
    const a = Buffer.from("in the folder\n");
    const b = Buffer.from("on the server\n");
    const c = Buffer.from("new\n");
    await folder.put(computeChecksum(a), a);
    await server.put(computeChecksum(b), b);
    const fan = new FanOutBufferStore([folder, server], [server]);
    expect(await fan.has([computeChecksum(a), computeChecksum(b), computeChecksum(c)])).toEqual([true, true, false]);
    expect(await fan.lengths([computeChecksum(b), computeChecksum(c)])).toEqual([b.length, null]);
    expect(Buffer.from((await fan.get(computeChecksum(a)))!).toString()).toBe("in the folder\n");
    expect(await fan.get(computeChecksum(c))).toBeNull();
    await fan.put(computeChecksum(c), c);
    expect(await server.has([computeChecksum(c)])).toEqual([true]);
    expect(await folder.has([computeChecksum(c)])).toEqual([false]);
    const out = join(dir.path, "out.txt");
    expect(await fan.getToFile(computeChecksum(b), out)).toBe(true);
    expect(await Bun.file(out).text()).toBe("on the server\n");
    fan.close();
  });

  test("openBufferStoreFor(): SEAMLESS_HASHSERVER wins; one writable server is itself; several, or folders, a fan-out", async () => {
    using dir = tempDir();
    // SEAMLESS_CACHE would win over SEAMLESS_REMOTE_CLIENTS (services-spec §7.3): the default cache.
    const env = { XDG_CACHE_HOME: dir.path };
    const openBufferStore = ({ env }: { env: Record<string, string> }) => openBufferStoreFor(resolveConfig(env, dir.path));
    const clients = (buffer: unknown[]) => JSON.stringify({ buffer });
    const explicit = await openBufferStore({ env: { ...env, SEAMLESS_HASHSERVER: "http://h:1", SEAMLESS_REMOTE_CLIENTS: clients([{ url: "http://x:1" }, { url: "http://y:1" }]) } });
    expect([explicit instanceof HttpBufferStore, explicit.location]).toEqual([true, "http://h:1"]);
    const single = await openBufferStore({ env: { ...env, SEAMLESS_REMOTE_CLIENTS: clients([{ url: "http://x:1", readonly: false }]) } });
    expect(single).toBeInstanceOf(HttpBufferStore);
    const several = (await openBufferStore({ env: { ...env, SEAMLESS_REMOTE_CLIENTS: clients([{ directory: join(dir.path, "ro") }, { url: "http://x:1" }, { url: "http://y:1", readonly: false }]) } })) as FanOutBufferStore;
    expect(several).toBeInstanceOf(FanOutBufferStore);
    expect(several.readers.map((store) => store.location)).toEqual([join(dir.path, "ro"), "http://x:1", "http://y:1"]);
    expect(several.writers.map((store) => store.location)).toEqual(["http://y:1"]);
    const readOnly = (await openBufferStore({ env: { ...env, SEAMLESS_REMOTE_CLIENTS: clients([{ url: "http://x:1" }]) } })) as FanOutBufferStore;
    expect(readOnly.writers.map((store) => store.location)).toEqual([join(dir.path, "seamless", "__TOPLEVEL__")]);
    // A read-only folder is read after the local cache, which takes the writes.
    const foldersOnly = (await openBufferStore({ env: { ...env, SEAMLESS_REMOTE_CLIENTS: clients([{ directory: join(dir.path, "ro") }]) } })) as FanOutBufferStore;
    expect(foldersOnly.readers.map((store) => store.location)).toEqual([join(dir.path, "seamless", "__TOPLEVEL__"), join(dir.path, "ro")]);
    expect(foldersOnly.writers.map((store) => store.location)).toEqual([join(dir.path, "seamless", "__TOPLEVEL__")]);
    const embedded = await openBufferStore({ env });
    expect(embedded).toBeInstanceOf(BufferDir);
  });
});
