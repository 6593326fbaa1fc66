/**
 * End-to-end: every command and every queue verb of the command tables answers a bad flag with
 * exit 2 and one error line (plus the pointer to its --help), and `--help` with exit 0.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../cli/main.ts";
import { VERBS } from "../../cli/queue.ts";
import { BINARY, runSeamless, scrubbedEnv, tempDir, type CliResult } from "../helpers.ts";

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error("dist/seamless is missing: run `npm run build` first (npm test does)");
});

/** Every command line to walk: `[argv prefix, error prefix, help command]`. */
const TARGETS: { argv: string[]; prefix: string; helpOf: string }[] = [
  ...Object.keys(COMMANDS).map((name) => ({ argv: [name], prefix: `seamless ${name}`, helpOf: name })),
  // Queue verbs speak as "seamless queue"; their help pointer names the verb.
  ...Object.keys(VERBS).map((verb) => ({ argv: ["queue", verb], prefix: "seamless queue", helpOf: `queue ${verb}` })),
];

/** Runs `argvs` a few at a time (each is a separate process; the machine is shared). */
async function runAll(argvs: string[][], cwd: string, env: Record<string, string>): Promise<CliResult[]> {
  const results: CliResult[] = new Array(argvs.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < argvs.length; i = next++) results[i] = await runSeamless(argvs[i]!, { cwd, env });
  };
  await Promise.all([lane(), lane(), lane()]);
  return results;
}

describe("usage errors (issue 19 §0)", () => {
  test("the command tables are walked: every command and every queue verb", () => {
    expect(TARGETS.length).toBeGreaterThan(30);
    expect(TARGETS.map((t) => t.argv.join(" "))).toContain("queue submit");
  });

  test("a bad flag is exit 2 with one error line and the help pointer, nothing on stdout", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const results = await runAll(TARGETS.map((t) => [...t.argv, "--no-such-flag"]), dir.path, env);
    const seen = results.map((result, i) => [TARGETS[i]!.argv.join(" "), result.exitCode, result.stdout, result.stderr]);
    const wanted = TARGETS.map((t) => [
      t.argv.join(" "), 2, "", `${t.prefix}: unrecognized argument: --no-such-flag\nTry 'seamless ${t.helpOf} --help'.\n`,
    ]);
    expect(seen).toEqual(wanted);
  }, 120_000);

  test("--help is exit 0 with the usage on stdout and nothing on stderr", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const results = await runAll(TARGETS.map((t) => [...t.argv, "--help"]), dir.path, env);
    for (const [i, result] of results.entries()) {
      const target = TARGETS[i]!;
      expect([target.argv.join(" "), result.exitCode, result.stderr]).toEqual([target.argv.join(" "), 0, ""]);
      // `seamless queue --help` lists the verbs: "Usage: seamless queue [VERB]".
      expect(result.stdout).toStartWith(`Usage: seamless ${target.argv.join(" ")}`);
    }
  }, 120_000);

  test("missing or surplus arguments and a bare 'seamless' are usage errors too", async () => {
    using dir = tempDir();
    const env = scrubbedEnv(join(dir.path, "cache"));
    const [bare, checksum, resolve, upload] = await runAll([[], ["checksum"], ["resolve", "a", "b"], ["upload"]], dir.path, env);
    expect([bare!.exitCode, bare!.stdout, bare!.stderr]).toEqual([2, "", "seamless: missing command\nTry 'seamless --help'.\n"]);
    expect([checksum!.exitCode, checksum!.stdout, checksum!.stderr]).toEqual([
      2, "", "seamless checksum: missing arguments (usage: seamless checksum [--write] PATH...)\nTry 'seamless checksum --help'.\n",
    ]);
    expect([resolve!.exitCode, resolve!.stderr.split("\n").length]).toEqual([2, 3]);
    expect(resolve!.stderr).toStartWith("seamless resolve: expected one argument, not 2 (usage: seamless resolve CHECKSUM|FILE.CHECKSUM");
    expect([upload!.exitCode, upload!.stdout, upload!.stderr.split("\n").length]).toEqual([2, "", 3]);
  }, 60_000);

  test("seamless run without a command keeps seamless-run's exit 1 and help on stderr (cli-spec §3.19)", async () => {
    using dir = tempDir();
    const result = await runSeamless(["run"], { cwd: dir.path, env: scrubbedEnv(join(dir.path, "cache")) });
    expect([result.exitCode, result.stdout]).toEqual([1, ""]);
    expect(result.stderr).toStartWith("Usage: seamless run");
  });
});
