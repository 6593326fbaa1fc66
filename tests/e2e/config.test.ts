/** End-to-end: `seamless config` and configuration errors, as a user sees them. */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless } from "../helpers.ts";
import { clusterFixture } from "./_cluster-fixture.ts";

// Launching servers and running the binary take seconds on a busy machine.
setDefaultTimeout(30_000);

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error("dist/seamless is missing: run `npm run build` first (npm test does)");
});

describe("seamless config", () => {
  test("--json shows cluster, project, stage, level and where each came from", async () => {
    using f = clusterFixture({ yaml: "- project: demo\n- cluster: local\n- execution: process\n- stage prod:\n  - subproject: live\n" });
    const result = await runSeamless(["config", "--json", "--stage", "prod"], { cwd: f.project, env: f.env });
    expect(result.exitCode).toBe(0);
    const config = JSON.parse(result.stdout);
    expect([config.source, config.cluster, config.project, config.subproject, config.stage, config.level]).toEqual(["config files", "local", "demo", "live", "prod", 2]);
    expect(config.origins.cluster).toBe(`"${join(f.project, "seamless.yaml")}", item 2`);
    expect(config.origins.subproject).toBe(`"${join(f.project, "seamless.yaml")}", item 4.1`);
    expect(config.origins.stage).toBe("--stage");
    expect(config.clients.buffer[0].plan.key).toBe("hashserver-local-rw-demo--live--STAGE-prod");
    expect(config.clients.database[0].plan.workdir).toBe(join(f.root, "db/demo/live/STAGE-prod"));
  });

  test("without any configuration: the embedded default, level 0", async () => {
    using f = clusterFixture();
    const result = await runSeamless(["config"], { cwd: f.root, env: f.env });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("source:         embedded default");
    expect(result.stdout).toContain(`buffer:         folder ${join(f.root, "xdg/seamless/__TOPLEVEL__")}  (embedded default)`);
    expect(result.stdout).toContain("level:          0");
  });

  test("SEAMLESS_CACHE wins over seamless.yaml", async () => {
    using f = clusterFixture();
    const result = await runSeamless(["config", "--json"], { cwd: f.project, env: { ...f.env, SEAMLESS_CACHE: join(f.root, "c") } });
    expect(JSON.parse(result.stdout).source).toBe("SEAMLESS_CACHE");
  });
});

describe("bad configuration: one line naming the file and item, exit 1", () => {
  const cases: [string, string, RegExp][] = [
    ["a YAML file that is not a list", "project: demo\n", /^seamless config: Cannot read ".*seamless\.yaml": expected a YAML list of commands, for example "- project: myproject"\n$/],
    ["an unknown command", "- project: demo\n- clustr: local\n", /^seamless config: Bad command in ".*seamless\.yaml", item 2: unknown command "clustr"\n$/],
    ["a cluster that does not exist", "- project: demo\n- cluster: mars\n", /^seamless config: Bad command in ".*seamless\.yaml", item 2: cluster "mars" is not defined .*\(known: local\)\n$/],
    ["YAML that does not parse", "- project: [demo\n", /^seamless config: Cannot read ".*seamless\.yaml": not valid YAML/],
  ];
  for (const [name, yaml, message] of cases) {
    test(name, async () => {
      using f = clusterFixture({ yaml });
      const result = await runSeamless(["config"], { cwd: f.project, env: f.env });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe("");
    });
  }

  test("upload refuses to run with a bad seamless.profile.yaml, and stores nothing", async () => {
    using f = clusterFixture();
    writeFileSync(join(f.project, "seamless.profile.yaml"), "- nparallel: -1\n");
    writeFileSync(join(f.project, "a.txt"), "a\n");
    const result = await runSeamless(["upload", "a.txt"], { cwd: f.project, env: f.env });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`Bad command in "${join(f.project, "seamless.profile.yaml")}", item 1: "nparallel" expects an integer of at least 1`);
    expect(existsSync(join(f.project, "a.txt.CHECKSUM"))).toBe(false);
  });
});
