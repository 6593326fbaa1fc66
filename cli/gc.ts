import { UsageError } from "../lib/errors.ts";
import { cacheDirOf } from "../lib/config/mod.ts";
import { collectGarbage, planGarbageCollection, type GcPlan } from "../lib/gc/mod.ts";
import { parseDuration } from "../lib/units/duration.ts";
import { formatSize, parseHumanSize } from "../lib/units/human-size.ts";
import { type CommandSpec, parseOrHelp } from "./args.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "gc",
  usage: "seamless gc [--dry-run] [--max-size SIZE] [--older-than DURATION] [--json]",
  summary:
    "Remove the least recently used results from the local cache, and the buffers only they need (a result\n" +
    "and the files of a directory result). Never a buffer that a kept result, a running transformation or a\n" +
    "lease needs; inputs and transformations stay. Safe while other seamless processes run.",
  positionals: "none",
  options: [
    { key: "dryRun", names: ["-n", "--dry-run"], kind: "flag", help: "list what would go and why; remove nothing" },
    { key: "maxSize", names: ["--max-size"], kind: "value", metavar: "SIZE", help: "remove until the buffers take at most SIZE (500MB, 2GiB)" },
    { key: "olderThan", names: ["--older-than"], kind: "value", metavar: "DURATION", help: "remove results not used for DURATION (30d, 12h)" },
    { key: "json", names: ["--json"], kind: "flag", help: "JSON output" },
  ],
  epilog: "Last use: the newest run of a result's transformation in the run log, else the result buffer's time.",
};

function planToJson(plan: GcPlan, dryRun: boolean): Record<string, unknown> {
  return {
    dry_run: dryRun,
    results: plan.results.map((row) => ({ tf_checksum: row.tfChecksum, result_checksum: row.resultChecksum, last_used: new Date(row.lastUsedMs).toISOString(), reason: row.reason })),
    buffers: plan.buffers.map((buffer) => ({ checksum: buffer.checksum, bytes: buffer.bytes, reason: buffer.reason })),
    bytes_before: plan.bytesBefore,
    bytes_after: plan.bytesAfter,
    size_estimated: plan.sizeEstimated,
    kept_for_others: plan.keptForOthers,
    target_missed: plan.targetMissed,
  };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  let maxSizeBytes: number | undefined;
  let olderThanMs: number | undefined;
  if (values.maxSize !== undefined) {
    maxSizeBytes = parseHumanSize(values.maxSize as string);
    if (Number.isNaN(maxSizeBytes)) throw new UsageError(`--max-size "${values.maxSize}": expected a size such as 500MB or 2GiB`);
  }
  if (values.olderThan !== undefined) {
    const seconds = parseDuration(values.olderThan as string);
    if (Number.isNaN(seconds)) throw new UsageError(`--older-than "${values.olderThan}": expected a duration such as 30d or 12h`);
    olderThanMs = seconds * 1000;
  }
  if (maxSizeBytes === undefined && olderThanMs === undefined) throw new UsageError("gc needs --max-size or --older-than (or both)");
  const cacheDir = cacheDirOf(process.env);
  const plan = planGarbageCollection({ cacheDir, maxSizeBytes, olderThanMs });
  const dryRun = values.dryRun === true;
  const done = dryRun ? null : collectGarbage(cacheDir, plan);
  if (values.json) {
    writeStdout(`${JSON.stringify({ ...planToJson(plan, dryRun), ...(done ? { removed_results: done.removedResults, removed_buffers: done.removedBuffers, freed_bytes: done.freedBytes, skipped: done.skipped } : {}) }, null, 2)}\n`);
    return 0;
  }
  const lines: string[] = [];
  if (dryRun) {
    for (const row of plan.results) lines.push(`would forget result ${row.resultChecksum} of transformation ${row.tfChecksum}: ${row.reason}`);
    for (const buffer of plan.buffers) lines.push(`would remove buffer ${buffer.checksum} (${formatSize(buffer.bytes)}): ${buffer.reason}`);
    const about = plan.sizeEstimated ? "~" : "";
    lines.push(`${plan.results.length} results and ${plan.buffers.length} buffers would go: ${about}${formatSize(plan.bytesBefore)} -> ${about}${formatSize(plan.bytesAfter)}`);
  } else {
    lines.push(`removed ${done!.removedResults} results and ${done!.removedBuffers} buffers, freed ${formatSize(done!.freedBytes)}${done!.skipped ? ` (${done!.skipped} left: needed again meanwhile)` : ""}`);
  }
  if (plan.keptForOthers) lines.push(`${plan.keptForOthers} buffers stay: a running transformation or a lease needs them`);
  if (plan.targetMissed) lines.push(`the cache stays above --max-size: what is left is inputs, transformations and buffers in use`);
  writeStdout(`${lines.join("\n")}\n`);
  return 0;
}
