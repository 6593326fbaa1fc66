/** Boots real servers from the compiled binary and waits for their status files. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BINARY } from "./helpers.ts";

/** A running server process. */
export interface BootedServer {
  url: string;
  port: number;
  process: Subprocess;
  stderr(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts `seamless <args>` with `--status-file` in `dir` (pre-filled with `base`) and waits until
 * it reports `running` (at most 20 s).
 */
export async function bootServer(name: string, args: string[], dir: string, env: Record<string, string>, base: Record<string, unknown> = {}): Promise<BootedServer> {
  const statusFile = join(dir, `${name}.status.json`);
  writeFileSync(statusFile, JSON.stringify(base));
  const child = Bun.spawn([BINARY, ...args, "--port", "0", "--status-file", statusFile], { cwd: dir, env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderrText = new Response(child.stderr).text();
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (existsSync(statusFile)) {
      try {
        const status = JSON.parse(readFileSync(statusFile, "utf8"));
        if (status.status === "running") {
          return {
            url: `http://127.0.0.1:${status.port}`,
            port: status.port,
            process: child,
            stderr: () => stderrText,
            stop: async () => {
              child.kill("SIGTERM");
              await child.exited;
            },
          };
        }
        if (status.status === "failed") throw new Error(`${name} failed to start: ${await stderrText}`);
      } catch (error) {
        if (String(error).includes("failed to start")) throw error;
      }
    }
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${await stderrText}`);
    if (Date.now() > deadline) throw new Error(`${name} did not start within 20 s`);
    await Bun.sleep(20);
  }
}
