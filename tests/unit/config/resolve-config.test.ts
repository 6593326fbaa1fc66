import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, resolveConfig, type ClientChoice } from "../../../lib/config/mod.ts";
import { tempDir } from "../../helpers.ts";

const CLUSTERS = `local_cluster: local
local:
  type: local
  workers: 2
  frontends:
    - hashserver: {bufferdir: /data/buffers, network_interface: 127.0.0.1, port_start: 55100, port_end: 55199}
      database: {database_dir: /data/db}
remote:
  type: slurm
  tunnel: true
  frontends:
    - hostname: frontend.example
      ssh_hostname: fe
      hashserver: {bufferdir: ~/buffers}
      database: {database_dir: ~/db}
      jobserver: {network_interface: 0.0.0.0, port_start: 55300, port_end: 55399}
`;

function setup(files: Record<string, string>): { dir: string; home: string; dispose(): void } {
  const root = tempDir();
  const home = join(root.path, "home");
  mkdirSync(join(home, ".seamless"), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(root.path, name, ".."), { recursive: true });
    writeFileSync(join(root.path, name), text);
  }
  return { dir: root.path, home, dispose: () => root[Symbol.dispose]() };
}

const plan = (choice: ClientChoice | undefined) => (choice?.kind === "launch" ? choice.plan : null);

describe("resolveConfig()", () => {
  test("keeps the embedded default when nothing is configured", () => {
    const config = resolveConfig({ HOME: "/home/u" }, "/nonexistent-dir");
    expect(config.source).toBe("embedded default");
    expect(config.level).toBe(0);
    expect(config.cacheDir).toBe("/home/u/.cache/seamless");
    expect(config.clients.buffer).toEqual([{ kind: "folder", directory: "/home/u/.cache/seamless/__TOPLEVEL__", readonly: false, origin: "embedded default" }]);
  });

  test("SEAMLESS_CACHE wins over SEAMLESS_REMOTE_CLIENTS and the files", () => {
    const s = setup({ "seamless.yaml": "- project: p\n- cluster: nope\n" });
    const config = resolveConfig({ HOME: s.home, SEAMLESS_CACHE: "/c", SEAMLESS_REMOTE_CLIENTS: "{}" }, s.dir);
    expect(config.source).toBe("SEAMLESS_CACHE");
    expect(config.project).toBe("__TOPLEVEL__");
    expect(config.clients.database).toEqual([{ kind: "sqlite", path: "/c/__TOPLEVEL__/seamless.db", origin: "SEAMLESS_CACHE" }]);
    s.dispose();
  });

  test("SEAMLESS_REMOTE_CLIENTS uses url (else remote_url) and directory (else remote_directory), readonly by default", () => {
    const json = JSON.stringify({
      database: [{ readonly: false, url: "http://localhost:1", remote_url: "http://fe:2" }],
      buffer: [{ url: "http://localhost:3" }, { remote_directory: "~/bufs" }],
    });
    const config = resolveConfig({ HOME: "/h", SEAMLESS_REMOTE_CLIENTS: json }, "/nonexistent-dir");
    expect(config.source).toBe("SEAMLESS_REMOTE_CLIENTS");
    expect(config.clients.database).toEqual([{ kind: "url", url: "http://localhost:1", readonly: false, origin: "SEAMLESS_REMOTE_CLIENTS database[0]" }]);
    expect(config.clients.buffer).toEqual([
      { kind: "url", url: "http://localhost:3", readonly: true, origin: "SEAMLESS_REMOTE_CLIENTS buffer[0]" },
      { kind: "folder", directory: "/h/bufs", readonly: true, origin: "SEAMLESS_REMOTE_CLIENTS buffer[1]" },
    ]);
    expect(config.level).toBe(2);
  });

  test("SEAMLESS_REMOTE_CLIENTS that is not JSON is a clear error", () => {
    expect(() => resolveConfig({ HOME: "/h", SEAMLESS_REMOTE_CLIENTS: "{nope" }, "/x")).toThrow(/SEAMLESS_REMOTE_CLIENTS: not valid JSON/);
  });

  test("a local cluster gives launch plans with the launcher keys and locations of §5.1", () => {
    const s = setup({ "home/.seamless/clusters.yaml": CLUSTERS, "seamless.yaml": "- project: myproject\n- cluster: local\n- execution: process\n" });
    const config = resolveConfig({ HOME: s.home }, s.dir, { stage: "prod" });
    expect(config.level).toBe(2);
    const hashserver = plan(config.clients.buffer[0])!;
    expect(hashserver.key).toBe("hashserver-local-rw-myproject--STAGE-prod");
    expect(hashserver.workdir).toBe("/data/buffers/myproject/STAGE-prod");
    expect(hashserver.local).toBe(true);
    expect(hashserver.args).toEqual(["hashserver", "--port-range", "55100", "55199", "--status-file", "{status_file}", "--host", "127.0.0.1", "--timeout", "600", "/data/buffers/myproject/STAGE-prod", "--writable"]);
    const database = plan(config.clients.database[0])!;
    expect(database.key).toBe("database-local-rw-myproject--STAGE-prod");
    expect(database.args.at(-1)).toBe("/data/db/myproject/STAGE-prod/seamless.db");
    expect(config.origins.cluster).toBe(`"${join(s.dir, "seamless.yaml")}", item 2`);
    s.dispose();
  });

  test("profile after yaml, parents first with inherit_from_parent, stage blocks only in their stage", () => {
    const s = setup({
      "home/.seamless/clusters/a.yaml": CLUSTERS,
      "seamless.yaml": "- project: parent\n- execution: process\n",
      "sub/seamless.yaml": "- inherit_from_parent\n- subproject: a/b\n- stage prod:\n  - project: production\n",
      "sub/seamless.profile.yaml": "- cluster: local\n",
    });
    const plain = resolveConfig({ HOME: s.home }, join(s.dir, "sub"));
    expect([plain.project, plain.subproject, plain.cluster, plain.execution]).toEqual(["parent", "a/b", "local", "process"]);
    expect(plain.files).toEqual([join(s.dir, "seamless.yaml"), join(s.dir, "sub/seamless.yaml"), join(s.dir, "sub/seamless.profile.yaml")]);
    expect(plan(plain.clients.buffer[0])!.key).toBe("hashserver-local-rw-parent--a--b");
    const prod = resolveConfig({ HOME: s.home }, join(s.dir, "sub"), { stage: "prod" });
    expect(prod.project).toBe("production");
    expect(prod.origins.project).toBe(`"${join(s.dir, "sub/seamless.yaml")}", item 3.1`);
    s.dispose();
  });

  test("--project P:SUB overrides the files", () => {
    const s = setup({ "home/.seamless/clusters.yaml": CLUSTERS, "seamless.yaml": "- project: p\n- cluster: local\n- execution: spawn\n" });
    const config = resolveConfig({ HOME: s.home }, s.dir, { project: "other:x" });
    expect([config.project, config.subproject, config.origins.project]).toEqual(["other", "x", "--project"]);
    expect(plan(config.clients.database[0])!.key).toBe("database-local-rw-other--x");
    s.dispose();
  });

  test("inline clusters command, remote frontend over SSH with a tunnel, jobserver plan ready for level 3", () => {
    const inline = CLUSTERS.split("\n").map((line) => `    ${line}`).join("\n");
    const s = setup({ "seamless.yaml": `- clusters:\n${inline}\n- project: p\n- cluster: remote\n` });
    const config = resolveConfig({ HOME: s.home }, s.dir);
    expect(config.execution).toBe("remote");
    const hashserver = plan(config.clients.buffer[0])!;
    expect([hashserver.local, hashserver.sshHostname, hashserver.hostname, hashserver.tunnel, hashserver.workdir]).toEqual([false, "fe", "frontend.example", true, "~/buffers/p"]);
    expect(plan(config.clients.jobserver[0])!.key).toBe("jobserver-remote-rw-p");
    expect(config.level).toBe(3);
    expect(config.notes).toEqual([]);
    s.dispose();
  });

  test("without execution and a cluster that has no jobserver, says it runs locally", () => {
    const s = setup({ "home/.seamless/clusters.yaml": CLUSTERS, "seamless.yaml": "- project: p\n- cluster: local\n" });
    const config = resolveConfig({ HOME: s.home }, s.dir);
    expect(config.execution).toBe("remote");
    expect(config.level).toBe(2);
    expect(config.notes).toEqual([`execution "remote" needs a jobserver, and cluster "local" has none: transformations run locally`]);
    s.dispose();
  });

  test("SEAMLESS_HASHSERVER and SEAMLESS_DATABASE override the clients", () => {
    const config = resolveConfig({ HOME: "/h", SEAMLESS_CACHE: "/c", SEAMLESS_DATABASE: "http://127.0.0.1:9" }, "/x", { hashserver: "http://127.0.0.1:8" });
    expect(config.clients.buffer[0]).toEqual({ kind: "url", url: "http://127.0.0.1:8", readonly: false, origin: "--hashserver" });
    expect(config.clients.database[0]).toEqual({ kind: "url", url: "http://127.0.0.1:9", readonly: false, origin: "SEAMLESS_DATABASE" });
    expect(config.level).toBe(2);
  });
});

describe("resolveConfig() refuses bad configuration with the file and item named", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["a YAML file that is not a list", { "seamless.yaml": "project: p\n" }, /seamless\.yaml": expected a YAML list of commands/],
    ["YAML that does not parse", { "seamless.yaml": "- project: [p\n" }, /seamless\.yaml": not valid YAML/],
    ["an unknown command", { "seamless.yaml": "- project: p\n- frobnicate: 3\n" }, /seamless\.yaml", item 2: unknown command "frobnicate"/],
    ["a bad argument", { "seamless.yaml": "- nparallel: 0\n" }, /item 1: "nparallel" expects an integer of at least 1/],
    ["an item with two keys", { "seamless.yaml": "- {project: p, cluster: c}\n" }, /item 1: each item must be a command name or a mapping with one key/],
    ["a forbidden name", { "seamless.yaml": "- project: a--b\n" }, /item 1: project name "a--b" may not contain "--"/],
    ["a cluster that does not exist", { "home/.seamless/clusters.yaml": CLUSTERS, "seamless.yaml": "- project: p\n- cluster: mars\n" }, /item 2: cluster "mars" is not defined .*\(known: local, remote\)/],
    ["execution remote without a cluster", { "seamless.yaml": "- execution: remote\n" }, /execution "remote" needs a cluster/],
    ["a malformed cluster file", { "home/.seamless/clusters.yaml": "local:\n  frontends:\n    - hashserver: {port_start: 1}\n", "seamless.yaml": "- project: p\n- cluster: local\n" }, /clusters\.yaml": cluster "local", frontend 1\.hashserver: "bufferdir" is required/],
    ["a stage block that is not a list", { "seamless.yaml": "- stage prod: 3\n" }, /"stage prod" must be followed by a list of commands/],
  ];
  for (const [name, files, message] of cases) {
    test(name, () => {
      const s = setup(files);
      try {
        expect(() => resolveConfig({ HOME: s.home }, s.dir, { stage: "prod" })).toThrow(message);
        expect(() => resolveConfig({ HOME: s.home }, s.dir, { stage: "prod" })).toThrow(ConfigError);
      } finally {
        s.dispose();
      }
    });
  }
});
