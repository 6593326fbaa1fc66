/**
 * End-to-end: when stdout is a terminal, `seamless run` shows a stdout-capture command's output
 * as it comes, byte for byte and once (issue 23 §1); the stored result, a cache hit and piped
 * output are as before. The terminal is a real pseudo-terminal from util-linux `script`, in raw
 * output mode (`stty -opost`) so the bytes read back are the bytes written.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, runSeamless, scrubbedEnv, tempDir } from "../helpers.ts";

const sha256 = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");
const hasScript = Bun.spawnSync(["sh", "-c", "command -v script"]).exitCode === 0;

/** `seamless run "$LIVE_COMMAND"` on a pseudo-terminal; `onOutput` sees the terminal's bytes so far. */
async function runOnTerminal(cwd: string, command: string, env: Record<string, string>, onOutput: (soFar: Buffer) => void = () => {}): Promise<{ exitCode: number; output: Buffer }> {
  const wrapper = join(cwd, "on-terminal.sh");
  writeFileSync(wrapper, `stty -opost -echo\nexec "$SEAMLESS" run "$LIVE_COMMAND"\n`);
  const child = Bun.spawn(["script", "-qfec", `bash ${wrapper}`, "/dev/null"], {
    cwd,
    env: { ...env, SEAMLESS: BINARY, LIVE_COMMAND: command },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const chunks: Buffer[] = [];
  for await (const chunk of child.stdout) {
    chunks.push(Buffer.from(chunk));
    onOutput(Buffer.concat(chunks));
  }
  return { exitCode: await child.exited, output: Buffer.concat(chunks) };
}

async function resultChecksums(cwd: string, env: Record<string, string>): Promise<(string | null)[]> {
  const log = await runSeamless(["log", "--json"], { cwd, env });
  expect(log.exitCode).toBe(0);
  return (JSON.parse(log.stdout) as { result_checksum: string | null }[]).map((row) => row.result_checksum);
}

describe.skipIf(!hasScript)("run: live stdout on a terminal", () => {
  test("output appears while the command still runs, and once", async () => {
    using dir = tempDir();
    const go = join(dir.path, "go");
    const env = scrubbedEnv(join(dir.path, ".cache"), { GO: go });
    // The command waits (bounded) for the test to see its first line: only live output lets it go on.
    const command = `printf 'first\\n'; for i in $(seq 1 600); do [ -e "$GO" ] && break; sleep 0.1; done; [ -e "$GO" ] && printf 'after\\n' || printf 'not-live\\n'`;
    const run = await runOnTerminal(dir.path, command, env, (soFar) => {
      if (soFar.includes("first\n") && !existsSync(go)) writeFileSync(go, "");
    });
    expect(run.exitCode).toBe(0);
    expect(run.output.toString()).toBe("first\nafter\n");
  }, 120_000);

  test("blank lines, non-UTF-8 bytes and a missing final newline come through exactly; a cache hit prints the result as before", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, ".cache"));
    const command = `printf '\\n\\nx\\377\\376\\n\\n\\ny'`;
    const raw = Buffer.from([10, 10, 0x78, 0xff, 0xfe, 10, 10, 10, 0x79]);
    const live = await runOnTerminal(dir.path, command, env);
    expect(live.exitCode).toBe(0);
    expect(live.output.equals(raw)).toBe(true);
    // The stored result is the command's stdout, unchanged.
    expect(await resultChecksums(dir.path, env)).toEqual([sha256(raw)]);
    // A cache hit on the terminal prints the stored result at once, formatted as always.
    const formatted = raw.subarray(2);
    const hit = await runOnTerminal(dir.path, command, env);
    expect(hit.exitCode).toBe(0);
    expect(hit.output.equals(formatted)).toBe(true);
  }, 120_000);

  test("piped output of an executed run is unchanged (formatted result at the end) and stores the same result", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, ".cache"));
    const command = `printf '\\n\\nx\\377\\376\\n\\n\\ny\\n\\n\\n'`;
    const raw = Buffer.from([10, 10, 0x78, 0xff, 0xfe, 10, 10, 10, 0x79, 10, 10, 10]);
    const child = Bun.spawn([BINARY, "run", command], { cwd: dir.path, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, exitCode] = await Promise.all([new Response(child.stdout).arrayBuffer(), child.exited]);
    expect(exitCode).toBe(0);
    expect(Buffer.from(stdout).equals(Buffer.from([0x78, 0xff, 0xfe, 10, 10, 10, 0x79, 10]))).toBe(true);
    expect(await resultChecksums(dir.path, env)).toEqual([sha256(raw)]);
  }, 120_000);

  test("result targets on a terminal: the command's other stdout lines print as before, the target is written", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, ".cache"));
    const run = await runOnTerminal(dir.path, "echo hello; echo data > out.txt", env);
    expect(run.exitCode).toBe(0);
    expect(run.output.toString()).toBe("hello\n");
    expect(await Bun.file(join(dir.path, "out.txt")).text()).toBe("data\n");
  }, 120_000);
});
