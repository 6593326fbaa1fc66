/**
 * End-to-end: `seamless run --docker IMAGE` and `--conda ENV` (cli-spec §2.1 `__env__`, §3.1,
 * §3.14, §3.16). The environment is recorded as Python records it and stays out of the
 * identity; conda is activated by the generated script; a container image is used when podman
 * can run it (a real engine from Debian, .ci/run installs it), else the host with a warning.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";

const sha256 = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

/**
 * A PATH holding only the tools these commands use (no docker, no podman, no conda), in `dir`;
 * the commands then run in `dir/work`, so that these tools lie outside the working directory.
 */
function toolsOnlyPath(dir: string): string {
  mkdirSync(join(dir, "work"), { recursive: true });
  const bin = join(dir, "tools-bin");
  mkdirSync(bin);
  for (const tool of ["cat", "xargs", "sort", "id", "echo", "kill", "mkdir", "mv", "ls"]) {
    const found = Bun.which(tool);
    if (found) symlinkSync(found, join(bin, tool));
  }
  return bin;
}

describe("--docker and --conda are recorded as in Python, outside the identity", () => {
  test("--dry -j writes env.json = the environment dict as plain; transformation.json is the one without them", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), "x\n");
    const env = scrubbedEnv(join(dir.path, ".cache"));
    const plain = await runSeamless(["run", "--dry", "-j", "plain", "--direct-print", "cat in.txt"], { cwd: dir.path, env });
    const both = await runSeamless(["run", "--dry", "-j", "both", "--direct-print", "--docker", "ubuntu:24.04", "--conda", "myenv", "cat in.txt"], { cwd: dir.path, env });
    const docker = await runSeamless(["run", "--dry", "-j", "docker", "--docker-image", "ubuntu:24.04", "cat in.txt"], { cwd: dir.path, env });
    expect([plain.exitCode, both.exitCode, docker.exitCode]).toEqual([0, 0, 0]);
    expect(both.stdout).toBe(plain.stdout);
    expect(docker.stdout).toBe(plain.stdout);
    expect(readFileSync(join(dir.path, "both/transformation.json"))).toEqual(readFileSync(join(dir.path, "plain/transformation.json")));
    expect(readFileSync(join(dir.path, "both/env.json"), "utf8")).toBe('{\n  "conda_environment": "myenv",\n  "docker": {\n    "name": "ubuntu:24.04"\n  }\n}\n');
    expect(readFileSync(join(dir.path, "docker/env.json"), "utf8")).toBe('{\n  "docker": {\n    "name": "ubuntu:24.04"\n  }\n}\n');
    // dunder.json keeps the other execution dunders and never __env__ (cli-spec §3.14).
    expect(readFileSync(join(dir.path, "both/dunder.json"), "utf8")).toBe('{\n  "__meta__": {\n    "__direct_print__": true\n  }\n}\n');
    expect(existsSync(join(dir.path, "plain/env.json"))).toBe(false);
    expect(existsSync(join(dir.path, "docker/dunder.json"))).toBe(false);
  });

  test("the long aliases --conda-env and --conda-environment record the same environment", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, ".cache"));
    for (const flag of ["--conda", "--conda-env", "--conda-environment"]) {
      const job = `job${flag}`;
      const result = await runSeamless(["run", "--dry", "-j", job, flag, "analysis", "echo hello"], { cwd: dir.path, env });
      expect(result.exitCode).toBe(0);
      expect(readFileSync(join(dir.path, job, "env.json"), "utf8")).toBe('{\n  "conda_environment": "analysis"\n}\n');
    }
  });
});

describe("--conda ENV is activated by the generated script (cli-spec §3.16)", () => {
  /** A conda root whose conda.sh defines `conda activate` the way conda's does: it sets CONDA_DEFAULT_ENV. */
  function fakeCondaRoot(dir: string): string {
    const root = join(dir, "conda-root");
    mkdirSync(join(root, "etc/profile.d"), { recursive: true });
    writeFileSync(join(root, "etc/profile.d/conda.sh"), 'conda() { if [ "$1" = activate ]; then export CONDA_DEFAULT_ENV="$2"; fi; }\n');
    return root;
  }

  test("with CONDA_ROOT, the command sees the activated environment", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, ".cache"), { CONDA_ROOT: fakeCondaRoot(dir.path) });
    const result = await runSeamless(["run", "--conda", "analysis", "echo $CONDA_DEFAULT_ENV"], { cwd: dir.path, env });
    expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, "analysis\n", ""]);
  });

  test("without CONDA_ROOT, the root comes from `conda info --base`", async () => {
    using dir = tempDir();
    const root = fakeCondaRoot(dir.path);
    const bin = toolsOnlyPath(dir.path);
    writeFileSync(join(bin, "conda"), `#!/bin/sh\n[ "$1 $2" = "info --base" ] && echo ${root}\n`, { mode: 0o755 });
    const env = scrubbedEnv(join(dir.path, ".cache"), { PATH: bin });
    delete env.CONDA_ROOT;
    const result = await runSeamless(["run", "--conda", "analysis", "echo $CONDA_DEFAULT_ENV"], { cwd: join(dir.path, "work"), env });
    expect([result.exitCode, result.stdout]).toEqual([0, "analysis\n"]);
  });

  test("no conda at all: one clear error line, exit 1, nothing cached", async () => {
    using dir = tempDir();
    const cache = join(dir.path, ".cache");
    const env = scrubbedEnv(cache, { PATH: toolsOnlyPath(dir.path) });
    delete env.CONDA_ROOT;
    const result = await runSeamless(["run", "--conda", "analysis", "echo hello"], { cwd: join(dir.path, "work"), env });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe('seamless run: Cannot activate conda environment "analysis": conda not found (set CONDA_ROOT or put conda on PATH)\n');
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { readonly: true });
    expect(db.query(`SELECT count(*) AS n FROM "transformation"`).get()).toEqual({ n: 0 });
    db.close();
  });
});

describe("--docker IMAGE without a container engine runs on the host, as Python does", () => {
  test("one warning line; the result is the one of the same command without --docker", async () => {
    using dir = tempDir();
    const cache = join(dir.path, ".cache");
    const env = scrubbedEnv(cache, { PATH: toolsOnlyPath(dir.path) });
    const work = join(dir.path, "work");
    writeFileSync(join(work, "in.txt"), "b\na\n");
    const result = await runSeamless(["run", "--docker", "ubuntu:24.04", "sort in.txt"], { cwd: work, env });
    expect([result.exitCode, result.stdout]).toEqual([0, "a\nb\n"]);
    expect(result.stderr).toBe("seamless run: --docker ubuntu:24.04: neither docker nor podman is on PATH; running on the host\n");
    // Same identity: the run without --docker is answered from the cache.
    const job = await runSeamless(["run", "--dry", "-j", "J", "sort in.txt"], { cwd: work, env });
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { readonly: true });
    expect(db.query(`SELECT result FROM "transformation" WHERE checksum = ?`).get(job.stdout.trim())).toEqual({ result: sha256("a\nb\n") });
    db.close();
  });
});

/**
 * The container path with podman from Debian. This machine kind has hybrid cgroups v1/v2, which
 * crun refuses; runc with cgroupfs, a private cgroup namespace and ulimits within the host's
 * limits works. That is podman's own configuration (containers.conf), not ours.
 */
const PODMAN = Bun.which("podman") && Bun.which("runc") ? Bun.which("podman")! : null;
const IMAGE = `localhost/seamless-test-image:${process.pid}`;
const CONTAINERS_CONF = `[containers]
cgroupns = "private"
default_ulimits = ["nproc=4096:4096", "nofile=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
`;
let podmanDir = "";
let podmanReady = false;

/** A tiny image made from the host's own bash and coreutils, plus a marker file only it has. */
function buildTestImage(): boolean {
  if (!PODMAN) return false;
  podmanDir = mkdtempSync(join(tmpdir(), "seamless-podman-"));
  writeFileSync(join(podmanDir, "containers.conf"), CONTAINERS_CONF);
  const rootfs = join(podmanDir, "rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  mkdirSync(join(rootfs, "etc"));
  mkdirSync(join(rootfs, "tmp"));
  writeFileSync(join(rootfs, "etc/seamless-test-image"), "inside the test image\n");
  const tools = ["bash", "sh", "cat", "sort", "mkdir", "mv", "xargs", "id", "ls", "kill"].flatMap((t) => Bun.which(t) ?? []);
  for (const tool of tools) cpSync(tool, join(rootfs, "bin", tool.split("/").pop()!), { dereference: true });
  const ldd = Bun.spawnSync(["ldd", ...tools], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
  for (const lib of new Set(ldd.match(/\/\S+\.so[^\s)]*/g) ?? [])) {
    mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
    cpSync(lib, join(rootfs, lib), { dereference: true });
  }
  const tar = join(podmanDir, "rootfs.tar");
  if (Bun.spawnSync(["tar", "-C", rootfs, "-cf", tar, "."]).exitCode !== 0) return false;
  const env = { ...process.env, CONTAINERS_CONF: join(podmanDir, "containers.conf") } as Record<string, string>;
  if (Bun.spawnSync([PODMAN, "import", tar, IMAGE], { env, stdout: "ignore", stderr: "ignore" }).exitCode !== 0) return false;
  return Bun.spawnSync([PODMAN, "run", "--rm", "--network", "none", IMAGE, "/bin/bash", "-c", "true"], { env, stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

describe("--docker IMAGE runs inside the image when podman can run it", () => {
  beforeAll(() => {
    podmanReady = buildTestImage();
    if (PODMAN && !podmanReady) console.warn("podman is installed but cannot run the test image here");
  }, 120_000);
  afterAll(() => {
    if (!podmanDir) return;
    if (PODMAN) Bun.spawnSync([PODMAN, "rmi", "-f", IMAGE], { env: { ...process.env, CONTAINERS_CONF: join(podmanDir, "containers.conf") } as Record<string, string>, stdout: "ignore", stderr: "ignore" });
    rmSync(podmanDir, { recursive: true, force: true });
  }, 60_000);

  test.skipIf(!PODMAN)("in the image, as the calling user, without network, with the workspace mounted; the identity is unchanged", async () => {
    expect(podmanReady).toBe(true);
    using dir = tempDir();
    writeFileSync(join(dir.path, "in.txt"), "b\na\n");
    const cache = join(dir.path, ".cache");
    // /usr/local/bin (where a docker client without a daemon may be) is left out: podman is tried alone.
    const env = scrubbedEnv(cache, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CONTAINERS_CONF: join(podmanDir, "containers.conf") });
    const command = "cat /etc/seamless-test-image && id -u && ls /sys/class/net && sort in.txt > sorted.txt";
    const result = await runSeamless(["run", "-i", "in.txt", "--docker", IMAGE, command], { cwd: dir.path, env });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`inside the test image\n${process.getuid!()}\nlo\n`);
    expect(readFileSync(join(dir.path, "sorted.txt"), "utf8")).toBe("a\nb\n");
    const job = await runSeamless(["run", "--dry", "-j", "J", "-i", "in.txt", command], { cwd: dir.path, env });
    const db = new Database(join(cache, "__TOPLEVEL__", "seamless.db"), { readonly: true });
    expect(db.query(`SELECT count(*) AS n FROM "transformation" WHERE checksum = ?`).get(job.stdout.trim())).toEqual({ n: 1 });
    db.close();
  });

  test.skipIf(!PODMAN)("an image the engine cannot run: the host, with a warning naming the reason", async () => {
    expect(podmanReady).toBe(true);
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, ".cache"), { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CONTAINERS_CONF: join(podmanDir, "containers.conf") });
    const result = await runSeamless(["run", "--docker", "localhost/seamless-no-such-image:1", "echo hello"], { cwd: dir.path, env });
    expect([result.exitCode, result.stdout]).toEqual([0, "hello\n"]);
    expect(result.stderr).toMatch(/^seamless run: --docker localhost\/seamless-no-such-image:1: cannot run the image \(podman: .+\); running on the host\n$/);
  });
});
