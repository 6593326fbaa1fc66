import { existsSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { resultCachePathOf } from "../lib/buffers/cache-dir.ts";
import { openBufferStoreFor, openResultCacheFor } from "../lib/delegation/mod.ts";
import { configFromFlags } from "./configure.ts";
import { detailsOf, explainTransformation, type Explanation } from "../lib/runlog/mod.ts";
import { type CommandSpec, parseOrHelp } from "./args.ts";
import { spec as runSpec } from "./run.ts";
import { formatLocalTime } from "../lib/units/duration.ts";
import { writeStdout } from "./stdio.ts";
import { NOT_FOR_INSPECTION, runRequestOf } from "./run-request.ts";
import { prepareCommand } from "../lib/execute/prepare-command.ts";
import { commandLog } from "./output.ts";

export const spec: CommandSpec = {
  name: "explain",
  usage: "seamless explain [run flags] [--json] 'COMMAND'",
  summary:
    "Say whether 'seamless run' would answer COMMAND from cache, and if not, what differs from the newest\n" +
    "earlier run of the same command text in the run log: which input (old and new checksum), which\n" +
    "variable, the code, the executable. Builds the transformation exactly as run does; nothing executes\n" +
    "and nothing is stored.",
  positionals: "remainder",
  options: [{ key: "json", names: ["--json"], kind: "flag", help: "JSON output" }, ...runSpec.options.filter((option) => !NOT_FOR_INSPECTION.has(option.key))],
};

function short(checksum: string | null): string {
  return checksum === null ? "(none)" : `${checksum.slice(0, 12)}…`;
}

function formatExplanation(explanation: Explanation): string {
  const lines: string[] = [];
  if (explanation.cachedResult) {
    lines.push(`cache hit: transformation ${explanation.tfChecksum} has result ${explanation.cachedResult}`);
    return `${lines.join("\n")}\n`;
  }
  lines.push(`will execute: transformation ${explanation.tfChecksum} is not in the cache`);
  const earlier = explanation.comparedWith;
  if (!earlier) {
    lines.push("no earlier run of this command text in the run log");
    return `${lines.join("\n")}\n`;
  }
  lines.push(`compared with run ${earlier.id} (${formatLocalTime(earlier.timeMs)}, ${earlier.outcome}, in ${earlier.cwd}):`);
  if (explanation.sameTransformation) {
    lines.push(`  the same transformation; its result is no longer cached (${earlier.outcome === "failed" || earlier.outcome === "canceled" ? `that run ${earlier.outcome}` : "forgotten, removed by gc, or its buffer is missing"})`);
  } else if (explanation.detailsMissing) {
    lines.push(`  a different transformation (${short(earlier.tfChecksum)}), whose details were not kept`);
  } else {
    for (const difference of explanation.differences) {
      if (difference.kind === "code") {
        lines.push(`  code changed: ${short(difference.old)} -> ${short(difference.new)}`);
        for (const line of difference.lines ?? []) lines.push(`    ${line}`);
      } else if (difference.kind === "variable") {
        lines.push(`  variable ${difference.name}: ${JSON.stringify(difference.old)} -> ${JSON.stringify(difference.new)}`);
      } else if (difference.kind === "output") {
        lines.push(`  result targets: ${difference.old} -> ${difference.new}`);
      } else {
        const what = difference.old === null ? "new" : difference.new === null ? "gone" : `${short(difference.old)} -> ${short(difference.new)}`;
        lines.push(`  ${difference.kind} ${difference.name}: ${what}`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

function explanationToJson(explanation: Explanation): Record<string, unknown> {
  const earlier = explanation.comparedWith;
  return {
    tf_checksum: explanation.tfChecksum,
    cache_hit: explanation.cachedResult !== null,
    result_checksum: explanation.cachedResult,
    compared_with: earlier ? { id: earlier.id, time: new Date(earlier.timeMs).toISOString(), cwd: earlier.cwd, outcome: earlier.outcome, tf_checksum: earlier.tfChecksum } : null,
    same_transformation: explanation.sameTransformation,
    details_missing: explanation.detailsMissing,
    differences: explanation.differences,
  };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError("explain needs the command, as 'seamless run' takes it");
  const request = runRequestOf(values, positionals);
  const config = configFromFlags(values);
  const cacheDir = config.cacheDir;
  const prepared = await prepareCommand(request, cacheDir, commandLog("explain"));
  let cachedResult: string | null = null;
  // Nothing is created: an embedded cache that does not exist yet has no hit.
  if (existsSync(resultCachePathOf(cacheDir)) || config.clients.database.some((client) => client.kind !== "sqlite")) {
    const cache = await openResultCacheFor(config);
    try {
      cachedResult = await cache.getResult(prepared.tfChecksum);
    } finally {
      cache.close();
    }
    if (cachedResult !== null) {
      const store = await openBufferStoreFor(config);
      try {
        if (!(await store.has([cachedResult]))[0]) cachedResult = null;
      } finally {
        store.close();
      }
    }
  }
  const details = detailsOf(prepared.dict, (checksum) => {
    const source = prepared.buffers.get(checksum);
    return source && "bytes" in source ? source.bytes : undefined;
  });
  const explanation = explainTransformation(cacheDir, request.command, details, prepared.tfChecksum, cachedResult);
  writeStdout(values.json ? `${JSON.stringify(explanationToJson(explanation), null, 2)}\n` : formatExplanation(explanation));
  return 0;
}
