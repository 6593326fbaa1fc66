/** A project directory with a local cluster in a private HOME and launcher directory. */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scrubbedEnv, tempDir } from "../helpers.ts";

export interface ClusterFixture {
  root: string;
  home: string;
  project: string;
  launcherDir: string;
  env: Record<string, string>;
  /** Kills every server launched under this fixture's launcher directory. */
  killServers(): void;
  [Symbol.dispose](): void;
}

/**
 * Makes HOME/.seamless/clusters.yaml with cluster "local" (hashserver and database under the
 * fixture) and a project directory with `seamless.yaml`.
 */
export function clusterFixture(options: { yaml?: string; clusters?: string } = {}): ClusterFixture {
  const dir = tempDir("seamless-cluster-");
  const root = dir.path;
  const home = join(root, "home");
  const project = join(root, "project");
  const launcherDir = join(root, "rhl");
  mkdirSync(join(home, ".seamless"), { recursive: true });
  mkdirSync(project);
  writeFileSync(
    join(home, ".seamless", "clusters.yaml"),
    options.clusters ??
      `local_cluster: local\nlocal:\n  type: local\n  frontends:\n    - hashserver: {bufferdir: ${root}/buffers, network_interface: 127.0.0.1}\n      database: {database_dir: ${root}/db, network_interface: 127.0.0.1}\n`,
  );
  writeFileSync(join(project, "seamless.yaml"), options.yaml ?? "- project: demo\n- cluster: local\n- execution: process\n");
  const env = scrubbedEnv("", { HOME: home, XDG_CACHE_HOME: join(root, "xdg"), REMOTE_HTTP_LAUNCHER_DIR: launcherDir });
  delete env.SEAMLESS_CACHE;
  const killServers = () => {
    let names: string[] = [];
    try {
      names = readdirSync(join(launcherDir, "server")).filter((n) => n.endsWith(".json"));
    } catch {}
    for (const name of names) {
      try {
        const { pid } = JSON.parse(readFileSync(join(launcherDir, "server", name), "utf8"));
        if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) process.kill(pid, "SIGTERM");
      } catch {}
    }
  };
  return { root, home, project, launcherDir, env, killServers, [Symbol.dispose]: () => (killServers(), dir[Symbol.dispose]()) };
}

/** The server JSON of a key. */
export function readServerJson(fixture: ClusterFixture, key: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(fixture.launcherDir, "server", `${key}.json`), "utf8"));
}
