import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BufferDir } from "../../../lib/buffers/bufferdir.ts";
import { computeChecksum } from "../../../lib/checksum/sha256.ts";
import { executeBashTransformation } from "../../../lib/execute/execute-bash.ts";
import { RUN_PROLOGUE, SPEC_PROLOGUE } from "../../../lib/execute/_prologue.ts";
import { killAll, processesWithCommandLine as processesRunning, tempDir } from "../../helpers.ts";

function uniqueSleep(): string {
  return `${6000 + Math.floor(Math.random() * 1000)}.${Math.floor(Math.random() * 1e6)}`;
}

/** Runs `prologue + code` with plain bash (no process-tree kill after it): only the EXIT trap ends background jobs. */
async function runWithPrologue(prologue: string, code: string, cwd: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(["/bin/bash", "-c", `${prologue}${code}`], { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { exitCode, stdout, stderr };
}

/** Waits (bounded) until no process runs `sleep <duration>`; returns the ones still there. */
async function survivors(sleep: string): Promise<number[]> {
  const deadline = Date.now() + 2000;
  while (processesRunning(`sleep ${sleep}`).length > 0 && Date.now() < deadline) await Bun.sleep(20);
  return processesRunning(`sleep ${sleep}`);
}


describe("the bash prologue (cli-spec §3.16)", () => {
  // [name, code with S for a unique sleep duration, whether the spec's trap kills that sleep]
  const cases: [string, string, boolean][] = [
    ["no background job", "echo plain", false],
    ["a plain failure under set -e", "false; echo not reached", false],
    ["exit N", "exit 3", false],
    ["an unbound variable under set -u", "echo $UNSET_IN_PROLOGUE_TEST", false],
    ["a background job left running", "sleep S & echo started", true],
    ["a background job and a failing command", "sleep S & false", true],
    ["a background job and exit N", "sleep S & exit 4", true],
    ["a finished job after the running one", "sleep S & sleep 0.01 & sleep 0.2; echo x", true],
    ["a finished job before the running one", "sleep 0.01 & sleep S & sleep 0.2; jobs >/dev/null; echo y", true],
    ["a background job started in a function", "f() { sleep S & }; f; echo z", true],
    ["a disowned job (the trap leaves it, as in Python)", "sleep S >/dev/null 2>&1 & disown; echo d", false],
  ];
  for (const [name, code, killed] of cases) {
    test(`the running prologue behaves as the spec's with ${name}`, async () => {
      using dir = tempDir();
      const sleeps: string[] = [];
      try {
        const outcomes = [];
        for (const prologue of [SPEC_PROLOGUE, RUN_PROLOGUE]) {
          const sleep = uniqueSleep();
          sleeps.push(sleep);
          const outcome = await runWithPrologue(prologue, code.replace("sleep S", `sleep ${sleep}`), dir.path);
          const left = await survivors(sleep);
          outcomes.push({ ...outcome, stderr: outcome.stderr.replace(/line \d+/, "line N"), killed: left.length === 0 && code.includes("sleep S") });
        }
        expect(outcomes[1]).toEqual(outcomes[0]!);
        expect(outcomes[1]!.killed).toBe(killed);
      } finally {
        for (const sleep of sleeps) killAll(processesRunning(`sleep ${sleep}`));
      }
    }, 20_000);
  }

  test("the running prologue keeps the spec's exit codes", async () => {
    using dir = tempDir();
    expect((await runWithPrologue(RUN_PROLOGUE, "true", dir.path)).exitCode).toBe(0);
    expect((await runWithPrologue(RUN_PROLOGUE, "false; exit 0", dir.path)).exitCode).toBe(1);
  });

  test("executeBashTransformation() shows the spec's prologue in transform.sh", async () => {
    using dir = tempDir();
    const store = new BufferDir(join(dir.path, "buffers"), { layout: "prefix" });
    store.ensureExists();
    const code = Buffer.from("cat transform.sh > RESULT");
    await store.put(computeChecksum(code), code);
    const dict = { __language__: "bash", __output__: ["result", "bytes", null], code: ["text", null, computeChecksum(code)] };
    const result = await executeBashTransformation(dict, store, { onStdoutLine: () => {} });
    // The script text of cli-spec §3.16, not the constant: a command may read or copy this file.
    expect(Buffer.from(result.buffer!).toString()).toBe("#!/bin/bash\nset -u -e\ntrap 'jobs -p | xargs -r kill' EXIT\ncat transform.sh > RESULT");
    store.close();
  });
});
