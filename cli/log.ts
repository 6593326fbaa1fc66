import { UsageError, NotFoundError } from "../lib/errors.ts";
import { cacheDirOf } from "../lib/config/mod.ts";
import { RunLog, runToJson, type StoredRun } from "../lib/runlog/mod.ts";
import { formatDuration, formatLocalTime, parsePointInTime } from "../lib/units/duration.ts";
import { type CommandSpec, parseOrHelp } from "./args.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "log",
  usage: "seamless log [--limit N] [--since T] [--command TEXT] [--json]\n       seamless log show ID|CHECKSUM [--json]",
  summary:
    "What ran: every 'seamless run' and 'run-transformation', newest first, with its outcome (executed,\n" +
    "cache hit, joined, failed, canceled), wall time and the time a cache hit saved. 'show' prints one run\n" +
    "with the stderr of its command; CHECKSUM is a transformation or result checksum (or a prefix).",
  positionals: "some",
  options: [
    { key: "limit", names: ["-n", "--limit"], kind: "value", metavar: "N", help: "at most N runs (default 20)" },
    { key: "since", names: ["--since"], kind: "value", metavar: "T", help: "runs since T: a duration back (2h, 7d) or a date (2026-12-06)" },
    { key: "command", names: ["--command"], kind: "value", metavar: "TEXT", help: "runs whose command contains TEXT" },
    { key: "json", names: ["--json"], kind: "flag", help: "JSON output" },
  ],
  epilog: "The log lives in $SEAMLESS_CACHE/run-log/ (our own files; not part of seamless.db).",
};

function formatRunLine(run: StoredRun): string {
  const time = run.executionMs ?? run.elapsedMs;
  const saved = run.savedMs !== null ? `saved ${formatDuration(run.savedMs / 1000)}` : "";
  // One line per run; a regular expression here cost ~3 ms of a 50-line listing.
  const command = run.command.includes("\n") ? run.command.split("\n").map((line) => line.trim()).join(" ; ") : run.command;
  return `${String(run.id).padStart(6)}  ${formatLocalTime(run.timeMs)}  ${run.outcome.padEnd(9)}  ${formatDuration(time / 1000).padStart(9)}  ${saved.padEnd(18)}  ${command}`;
}

function formatRunDetail(run: StoredRun): string {
  const lines = [
    `run ${run.id}`,
    `time:           ${formatLocalTime(run.timeMs)}`,
    `directory:      ${run.cwd}`,
    `command:        ${run.command}`,
    `recorded by:    seamless ${run.source}`,
    `outcome:        ${run.outcome}`,
    `transformation: ${run.tfChecksum ?? "-"}`,
    `result:         ${run.resultChecksum ?? "-"}`,
    `elapsed:        ${formatDuration(run.elapsedMs / 1000)}`,
  ];
  if (run.executionMs !== null) lines.push(`execution:      ${formatDuration(run.executionMs / 1000)}`);
  if (run.savedMs !== null) lines.push(`saved:          ${formatDuration(run.savedMs / 1000)}`);
  if (run.error) lines.push(`error:          ${run.error.split("\n")[0]}`);
  if (run.stderr) lines.push("stderr:", run.stderr.trimEnd());
  return `${lines.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  if (positionals.length > 0 && positionals[0] !== "show") throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const log = new RunLog(cacheDirOf(process.env));
  try {
    if (positionals[0] === "show") {
      if (positionals.length !== 2) throw new UsageError("log show takes one run id or checksum");
      const run = log.find(positionals[1]!);
      if (!run) throw new NotFoundError(`No run "${positionals[1]}" in the run log`);
      writeStdout(json ? `${JSON.stringify(runToJson(run, true), null, 2)}\n` : formatRunDetail(run));
      return 0;
    }
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit "${values.limit}": expected a positive whole number`);
    let sinceMs: number | undefined;
    if (values.since !== undefined) {
      sinceMs = parsePointInTime(values.since as string);
      if (Number.isNaN(sinceMs)) throw new UsageError(`--since "${values.since}": expected a duration (2h, 7d) or a date (2026-12-06)`);
    }
    const runs = log.list({ limit, sinceMs, command: values.command as string | undefined });
    if (json) writeStdout(`${JSON.stringify(runs.map((run) => runToJson(run)), null, 2)}\n`);
    else if (runs.length > 0) writeStdout(`${runs.map(formatRunLine).join("\n")}\n`);
    return 0;
  } finally {
    log.close();
  }
}
