/** The upload helper thread and the upload plans that use it. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeChecksum } from "../../lib/checksum/sha256.ts";
import { StatCache } from "../../lib/checksum/stat-cache.ts";
import { BufferDir } from "../../lib/buffers/bufferdir.ts";
import { findMissing, planUpload, staleSidecars, storeBuffers, writeSidecars } from "../../lib/buffers/transfer.ts";
import { HELPER_MIN_FILES, UploadHelper } from "../../lib/buffers/upload-helper.ts";
import { tempDir } from "../helpers.ts";

function smallFiles(dir: string, count: number): { paths: string[]; checksums: string[] } {
  mkdirSync(join(dir, "in"), { recursive: true });
  const paths: string[] = [];
  const checksums: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = new TextEncoder().encode(`small file ${i}\n`);
    const path = join(dir, "in", `f${i}.txt`);
    writeFileSync(path, data);
    paths.push(path);
    checksums.push(computeChecksum(data));
  }
  return { paths, checksums };
}

describe("UploadHelper", () => {
  test("hashes files, keeps their bytes, and stores the ones it is told to", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, 3);
    const helper = new UploadHelper();
    try {
      const hashed = await helper.hash(paths);
      expect(hashed.map((file) => file.checksum)).toEqual(checksums);
      expect(hashed.map((file) => file.length)).toEqual(paths.map((path) => readFileSync(path).byteLength));
      mkdirSync(join(dir.path, "store"));
      await helper.store([[0, join(dir.path, "store", "a")], [2, join(dir.path, "store", "c")]], 0o600);
      expect(readdirSync(join(dir.path, "store")).toSorted()).toEqual(["a", "c"]);
      expect(readFileSync(join(dir.path, "store", "c"))).toEqual(readFileSync(paths[2]!));
    } finally {
      helper.close();
    }
  });

  test("a file error reaches the caller with its code and path", async () => {
    using dir = tempDir();
    const missing = join(dir.path, "gone.txt");
    const helper = new UploadHelper();
    try {
      await expect(helper.hash([missing])).rejects.toMatchObject({ code: "ENOENT", path: missing });
    } finally {
      helper.close();
    }
  });
});

describe("upload plans with a helper", () => {
  test("new small files are shared with the helper; stored buffers and sidecars are right; unchanged files need none", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    const store = new BufferDir(join(dir.path, "cache"), { layout: "prefix" });
    store.ensureExists();
    const statCache = new StatCache(join(dir.path, "stat.sqlite"), { minBytes: 0 });
    await Bun.sleep(80); // past the stat cache's racy-timestamp margin
    const plan = await planUpload(paths, statCache, { localStore: true });
    try {
      expect(plan.helper).not.toBeNull();
      const held = [...plan.buffers.values()].filter((source) => "held" in source).length;
      expect(held).toBeGreaterThan(HELPER_MIN_FILES / 4);
      await storeBuffers(store, await findMissing(store, plan), undefined, plan.helper);
      await writeSidecars(await staleSidecars(plan));
    } finally {
      plan.helper?.close();
    }
    statCache.flush();
    for (const [i, path] of paths.entries()) {
      expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
      expect(await store.get(checksums[i]!)).toEqual(new Uint8Array(readFileSync(path)));
    }
    const again = await planUpload(paths, statCache, { localStore: true });
    expect(again.helper).toBeNull();
    expect([...again.buffers.keys()].toSorted()).toEqual(checksums.toSorted());
    statCache.close();
  });

  test("a file the helper cannot read fails the plan with that file's error", async () => {
    using dir = tempDir();
    const { paths } = smallFiles(dir.path, HELPER_MIN_FILES + 10);
    // Stats as an empty regular file, and reading it fails (EIO) even for root: it lands in the
    // helper's share, the second half of the new files.
    const unreadable = "/proc/self/mem";
    await expect(planUpload([...paths, unreadable], null, { localStore: true })).rejects.toMatchObject({ path: unreadable });
  });
});

describe("upload sidecars", () => {
  test("staleSidecars() finds missing and differing sidecars; identical ones stay untouched", async () => {
    using dir = tempDir();
    const { paths, checksums } = smallFiles(dir.path, 3);
    mkdirSync(join(dir.path, "tree"));
    writeFileSync(join(dir.path, "tree", "a.txt"), "a\n");
    writeFileSync(`${paths[0]}.CHECKSUM`, `${checksums[0]}\n`); // identical
    writeFileSync(`${paths[1]}.CHECKSUM`, `${checksums[0]}\n`); // wrong; paths[2] has none
    const untouched = statSync(`${paths[0]}.CHECKSUM`).ino;
    const plan = await planUpload([...paths, join(dir.path, "tree")], null);
    const stale = await staleSidecars(plan);
    expect(stale.map((file) => file.path).toSorted()).toEqual(
      [`${paths[1]}.CHECKSUM`, `${paths[2]}.CHECKSUM`, join(dir.path, "tree.CHECKSUM"), join(dir.path, "tree.INDEX")].toSorted(),
    );
    await writeSidecars(stale);
    for (const [i, path] of paths.entries()) expect(readFileSync(`${path}.CHECKSUM`, "utf8")).toBe(`${checksums[i]}\n`);
    expect(statSync(`${paths[0]}.CHECKSUM`).ino).toBe(untouched);
    const index = readFileSync(join(dir.path, "tree.INDEX"));
    expect(JSON.parse(index.toString())).toEqual({ "a.txt": computeChecksum("a\n") });
    expect(readFileSync(join(dir.path, "tree.CHECKSUM"), "utf8")).toBe(`${computeChecksum(index)}\n`);
    expect(await staleSidecars(plan)).toEqual([]);
  });
});
