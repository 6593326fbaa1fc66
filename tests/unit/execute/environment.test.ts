/** The execution environment: `__env__` records (cli-spec §2.1) and how a run is launched (§3.16). */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { environmentOf } from "../../../lib/transformation/environment.ts";
import { CondaNotFoundError, condaActivation, containerRunCommand, firstErrorLine, loadEnvironment, planExecution } from "../../../lib/execute/environment.ts";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { tempDir } from "../../helpers.ts";

const sha256 = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

describe("environmentOf()", () => {
  test("records docker and conda as environment.py does, serialized as plain", () => {
    const env = environmentOf({ dockerImage: "ubuntu:24.04", condaEnvironment: "analysis" })!;
    const text = '{\n  "conda_environment": "analysis",\n  "docker": {\n    "name": "ubuntu:24.04"\n  }\n}\n';
    expect(Buffer.from(env.buffer).toString("utf8")).toBe(text);
    expect(env.checksum).toBe(sha256(text));
    expect(environmentOf({})).toBeNull();
  });
});

describe("loadEnvironment()", () => {
  test("reads __env__ by checksum from the store, and accepts an inline dict", async () => {
    using dir = tempDir();
    const store = new BufferDir(dir.path);
    const env = environmentOf({ condaEnvironment: "analysis" })!;
    await store.put(env.checksum, env.buffer);
    expect(await loadEnvironment({ __env__: env.checksum }, store)).toEqual({ conda_environment: "analysis" });
    expect(await loadEnvironment({ __env__: { docker: { name: "x" } } }, store)).toEqual({ docker: { name: "x" } });
    expect(await loadEnvironment({}, store)).toBeNull();
    await expect(loadEnvironment({ __env__: "0".repeat(64) }, store)).rejects.toThrow(/not found/);
  });
});

describe("condaActivation()", () => {
  test("sources conda.sh of CONDA_ROOT, then activates (cli-spec §3.16)", () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "etc/profile.d"), { recursive: true });
    writeFileSync(join(dir.path, "etc/profile.d/conda.sh"), "");
    expect(condaActivation("analysis", false, { environ: { CONDA_ROOT: dir.path, PATH: "" } })).toBe(`\nsource ${dir.path}/etc/profile.d/conda.sh\nconda activate analysis\n`);
    expect(condaActivation("analysis", true, { environ: { PATH: "" } })).toBe("\nsource $(conda info --base)/etc/profile.d/conda.sh\nconda activate analysis\n");
  });
  test("no CONDA_ROOT and no conda on PATH is a CondaNotFoundError", () => {
    expect(() => condaActivation("analysis", false, { environ: { PATH: "" } })).toThrow(CondaNotFoundError);
  });
});

describe("containerRunCommand() and planExecution()", () => {
  test("mounts the workspace at its own path, runs as the calling user, no network by default", () => {
    const uid = process.getuid!();
    const user = uid === 0 ? ["--user", `${uid}:${process.getgid!()}`] : ["--userns=keep-id"];
    expect(containerRunCommand("/usr/bin/podman", "img:1", "/tmp/ws", ["A"], { environ: {} })).toEqual([
      "/usr/bin/podman", "run", "--rm", "--network", "none", ...user, "--volume", "/tmp/ws:/tmp/ws", "--workdir", "/tmp/ws", "--env", "A", "img:1",
    ]);
    expect(containerRunCommand("/usr/bin/docker", "img:1", "/w", [], { environ: { SEAMLESS_CONTAINER_NETWORK: "bridge" } })).toContain("bridge");
  });
  test("no engine on PATH: one warning, the host", () => {
    const warnings: string[] = [];
    const plan = planExecution({ docker: { name: "img:1" } }, (w) => warnings.push(w), { environ: { PATH: "" } });
    expect(plan.engines).toEqual([]);
    expect(warnings).toEqual(["--docker img:1: neither docker nor podman is on PATH; running on the host"]);
  });
  test("firstErrorLine() keeps the engine's reason without its prefixes", () => {
    expect(firstErrorLine("\ndocker: Cannot connect to the Docker daemon.\nSee 'docker run --help'.\n")).toBe("Cannot connect to the Docker daemon.");
    expect(firstErrorLine("Error: crun: cgroups in hybrid mode not supported\n")).toBe("crun: cgroups in hybrid mode not supported");
  });
});
