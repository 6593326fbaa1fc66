import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkLayers } from "../../../scripts/check-layers.ts";
import { tempDir } from "../../helpers.ts";

test("checkLayers() finds no domain cycle in lib/ and no ground-floor import that goes up", () => {
  const report = checkLayers(resolve(import.meta.dir, "..", "..", ".."));
  expect(report.violations).toEqual([]);
  expect(report.cycles).toEqual([]);
  expect(report.graph.checksum).toBeDefined();
});

test("checkLayers() reports a domain cycle with its imports and an upward ground-floor import", () => {
  using dir = tempDir();
  const file = (path: string, text: string) => {
    mkdirSync(join(dir.path, "lib", path, ".."), { recursive: true });
    writeFileSync(join(dir.path, "lib", path), text);
  };
  file("checksum/a.ts", `import { b } from "../buffers/b.ts";\n/** import { x } from "../cache/x.ts" in a comment is no import */\nexport const a = 1;\n`);
  file("buffers/b.ts", `import type { a } from "../checksum/a.ts";\nexport const b = 2;\n`);
  file("cache/c.ts", `const lazy = () => require("../checksum/a.ts");\n`);
  file("gc/_internal.ts", `export const hidden = 1;\n`);
  file("queue/q.ts", `import { hidden } from "../gc/_internal.ts";\n`);
  const report = checkLayers(dir.path);
  expect(report.cycles).toEqual([
    {
      domains: ["buffers", "checksum"],
      imports: [
        { from: "lib/buffers/b.ts", to: "lib/checksum/a.ts", fromDomain: "buffers", toDomain: "checksum" },
        { from: "lib/checksum/a.ts", to: "lib/buffers/b.ts", fromDomain: "checksum", toDomain: "buffers" },
      ],
    },
  ]);
  expect(report.violations).toEqual([{ from: "lib/checksum/a.ts", to: "lib/buffers/b.ts", fromDomain: "checksum", toDomain: "buffers" }]);
  expect(report.graph.cache).toEqual(["checksum"]);
  expect(report.privateImports).toEqual([{ from: "lib/queue/q.ts", to: "lib/gc/_internal.ts", fromDomain: "queue", toDomain: "gc" }]);
});
