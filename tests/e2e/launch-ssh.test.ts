/**
 * End-to-end: a hashserver launched on a "cluster frontend" over SSH (services-spec §5.2), with
 * a real sshd on loopback started by the test, directly and through an SSH tunnel; and a host
 * that refuses the key.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, tempDir } from "../helpers.ts";
import { clusterFixture } from "./_cluster-fixture.ts";
import { sshUnavailableReason, startSshd, type TestSshd } from "./_sshd.ts";

// SSH round trips and a server start on a busy machine take seconds, not milliseconds.
setDefaultTimeout(60_000);

const unavailable = sshUnavailableReason();
if (unavailable) console.warn(`SKIPPING SSH launching tests: ${unavailable}`);

const sshDir = tempDir("seamless-sshd-");
let sshd: TestSshd | null = null;

beforeAll(async () => {
  if (!existsSync(BINARY)) throw new Error("dist/seamless is missing: run `npm run build` first (npm test does)");
  if (!unavailable) sshd = await startSshd(sshDir.path);
});

function killLaunched(): void {
  if (!sshd) return;
  for (const dir of [join(sshd.remoteLauncherDir, "server")]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).filter((n) => n.endsWith(".json"))) {
      try {
        const pid = JSON.parse(readFileSync(join(dir, name), "utf8")).pid;
        if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) process.kill(pid, "SIGTERM");
      } catch {}
    }
  }
}

afterAll(() => {
  killLaunched();
  sshd?.stop();
  sshDir[Symbol.dispose]();
});

function remoteCluster(root: string, options: { tunnel: boolean; sshHost?: string }): string {
  return [
    "local_cluster: workstation",
    "frontend:",
    "  type: slurm",
    `  tunnel: ${options.tunnel}`,
    "  frontends:",
    "    - hostname: 127.0.0.1",
    `      ssh_hostname: ${options.sshHost ?? "testhost"}`,
    `      seamless_binary: ${BINARY}`,
    `      hashserver: {bufferdir: ${root}/frontend-buffers, network_interface: 127.0.0.1}`,
    "",
  ].join("\n");
}

const KEY = "hashserver-frontend-rw-demo";

describe.skipIf(unavailable !== null)("launching over SSH", () => {
  test("direct: upload launches the hashserver on the frontend, resolve reuses it", async () => {
    using f = clusterFixture({ yaml: "- project: demo\n- cluster: frontend\n- execution: process\n" });
    writeFileSync(join(f.home, ".seamless", "clusters.yaml"), remoteCluster(f.root, { tunnel: false }));
    const env = { ...f.env, SEAMLESS_SSH_CONFIG: sshd!.sshConfig };
    writeFileSync(join(f.project, "a.txt"), "over ssh\n");
    const upload = await runSeamless(["upload", "-v", "a.txt"], { cwd: f.project, env });
    expect(upload.stderr).toContain(`Launching hashserver "${KEY}" on testhost over SSH`);
    expect(upload.exitCode).toBe(0);
    const server = JSON.parse(readFileSync(join(sshd!.remoteLauncherDir, "server", `${KEY}.json`), "utf8"));
    expect(server.status).toBe("running");
    const client = JSON.parse(readFileSync(join(f.launcherDir, "client", `${KEY}.json`), "utf8"));
    expect(client).toEqual({ hostname: "127.0.0.1", port: server.port, ssh_hostname: "testhost" });
    const checksum = readFileSync(join(f.project, "a.txt.CHECKSUM"), "utf8").trim();
    expect(existsSync(join(f.root, "frontend-buffers/demo", checksum.slice(0, 2), checksum))).toBe(true);
    const resolve = await runSeamless(["resolve", "a.txt.CHECKSUM"], { cwd: f.project, env });
    expect(resolve).toMatchObject({ exitCode: 0, stdout: "over ssh\n" });
    killLaunched();
  });

  test("tunnel: true reaches the server through an SSH tunnel from a local port", async () => {
    using f = clusterFixture({ yaml: "- project: demo\n- cluster: frontend\n- execution: process\n" });
    writeFileSync(join(f.home, ".seamless", "clusters.yaml"), remoteCluster(f.root, { tunnel: true }));
    const env = { ...f.env, SEAMLESS_SSH_CONFIG: sshd!.sshConfig };
    writeFileSync(join(f.project, "a.txt"), "tunneled\n");
    const upload = await runSeamless(["upload", "a.txt"], { cwd: f.project, env });
    expect(upload.stderr).toBe("seamless upload: Upload 1 files, total 9.00 B\n");
    expect(upload.exitCode).toBe(0);
    const server = JSON.parse(readFileSync(join(sshd!.remoteLauncherDir, "server", `${KEY}.json`), "utf8"));
    const client = JSON.parse(readFileSync(join(f.launcherDir, "client", `${KEY}.json`), "utf8"));
    try {
      expect(client).toMatchObject({ hostname: "localhost", "tunneled-host": "127.0.0.1", "tunneled-port": server.port, "tunneled-network-interface": "127.0.0.1" });
      expect(client.port).not.toBe(server.port);
      const resolve = await runSeamless(["resolve", "a.txt.CHECKSUM"], { cwd: f.project, env });
      expect(resolve).toMatchObject({ exitCode: 0, stdout: "tunneled\n" });
    } finally {
      try {
        process.kill(client["tunnel-pid"], "SIGTERM");
      } catch {}
      killLaunched();
    }
  });

  test("a host that refuses the key: one clear error, exit 1, no hang", async () => {
    using f = clusterFixture({ yaml: "- project: demo\n- cluster: frontend\n- execution: process\n" });
    writeFileSync(join(f.home, ".seamless", "clusters.yaml"), remoteCluster(f.root, { tunnel: false, sshHost: "wrongkey" }));
    writeFileSync(join(f.project, "a.txt"), "a\n");
    const upload = await runSeamless(["upload", "a.txt"], { cwd: f.project, env: { ...f.env, SEAMLESS_SSH_CONFIG: sshd!.sshConfig } });
    expect(upload.exitCode).toBe(1);
    expect(upload.stderr).toMatch(/^seamless upload: SSH to "wrongkey" failed: .*Permission denied \(publickey\)/);
    expect(upload.stderr.trim().split("\n").length).toBe(1);
    expect(existsSync(join(f.project, "a.txt.CHECKSUM"))).toBe(false);
  });
});
