import { cacheDirOf } from "../lib/config/mod.ts";
import { collectCacheStats, type CacheStats } from "../lib/gc/stats.ts";
import { formatCount, formatDuration } from "../lib/units/duration.ts";
import { formatSize } from "../lib/units/human-size.ts";
import { type CommandSpec, parseOrHelp } from "./args.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "stats",
  usage: "seamless stats [--json]",
  summary:
    "The local cache in numbers: buffers (count and bytes; estimated from a sample above 20,000 buffers),\n" +
    "cached and irreproducible results, runs by outcome, the hit rate, and the time cache hits saved in\n" +
    "total and over the last week.",
  positionals: "none",
  options: [{ key: "json", names: ["--json"], kind: "flag", help: "JSON output" }],
};

function statsToJson(stats: CacheStats): Record<string, unknown> {
  const runs = stats.runs;
  return {
    cache_dir: stats.cacheDir,
    buffers: { count: stats.buffers.buffers, bytes: stats.buffers.bytes, estimated: stats.buffers.estimated },
    results: stats.results,
    irreproducible_results: stats.irreproducible,
    runs: runs ? {
      count: runs.runs, by_outcome: runs.byOutcome, hit_rate: runs.hitRate, saved_ms: runs.savedMs, saved_last_week_ms: runs.savedLastWeekMs,
      executed_ms: runs.executedMs, first: runs.firstMs === null ? null : new Date(runs.firstMs).toISOString(), last: runs.lastMs === null ? null : new Date(runs.lastMs).toISOString(),
    } : null,
  };
}

function formatStats(stats: CacheStats): string {
  const about = stats.buffers.estimated ? "~" : "";
  const lines = [
    `cache:          ${stats.cacheDir}`,
    `buffers:        ${about}${formatCount(stats.buffers.buffers)} (${about}${formatSize(stats.buffers.bytes)})`,
    `results:        ${formatCount(stats.results)}${stats.irreproducible ? ` (and ${stats.irreproducible} irreproducible)` : ""}`,
  ];
  const runs = stats.runs;
  if (!runs || runs.runs === 0) lines.push("runs:           none logged");
  else {
    const outcomes = Object.entries(runs.byOutcome).filter(([, count]) => count > 0).map(([outcome, count]) => `${formatCount(count)} ${outcome}`);
    lines.push(`runs:           ${formatCount(runs.runs)} (${outcomes.join(", ")})`);
    if (runs.hitRate !== null) lines.push(`hit rate:       ${(runs.hitRate * 100).toFixed(1)}%`);
    lines.push(`time saved:     ${formatDuration(runs.savedMs / 1000)} in total, ${formatDuration(runs.savedLastWeekMs / 1000)} in the last week`);
    lines.push(`time executing: ${formatDuration(runs.executedMs / 1000)}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const stats = collectCacheStats(cacheDirOf(process.env));
  writeStdout(parsed.values.json ? `${JSON.stringify(statsToJson(stats), null, 2)}\n` : formatStats(stats));
  return 0;
}
