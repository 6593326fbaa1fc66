import { resolveConfig, type ClientChoice, type SeamlessConfig } from "../lib/config/mod.ts";
import { describeClients } from "../lib/delegation/mod.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "config",
  usage: "seamless config [--json] [--project P[:SUB]] [--stage S[:SUB]]",
  summary:
    "Print the resolved configuration: cluster, project, stage, delegation level, and the buffer,\n" +
    "database and jobserver clients, each with where it came from (SEAMLESS_CACHE,\n" +
    "SEAMLESS_REMOTE_CLIENTS, seamless.yaml / seamless.profile.yaml, ~/.seamless/clusters.yaml).",
  positionals: "none",
  options: [
    { key: "json", names: ["--json"], kind: "flag", help: "print JSON" },
    { key: "project", names: ["--project"], kind: "value", metavar: "P[:SUB]", help: "select project (and subproject)" },
    { key: "stage", names: ["--stage"], kind: "value", metavar: "S[:SUB]", help: "select stage (and substage)" },
  ],
  epilog: "Exit codes: 0 ok, 1 bad configuration (the file and item are named), 2 usage.",
};

function row(label: string, value: string | number | boolean | null, origin?: string): string {
  return `${`${label}:`.padEnd(16)}${value ?? "-"}${origin && value !== null ? `  (${origin})` : ""}`;
}

function describe(config: SeamlessConfig): string {
  const o = config.origins;
  const lines = [
    row("source", config.source + (config.files.length ? `: ${config.files.join(", ")}` : "")),
    row("cluster", config.cluster, o.cluster),
    row("local cluster", config.localCluster, o.localCluster),
    row("project", config.project, o.project),
    row("subproject", config.subproject, o.subproject),
    row("stage", config.stage, o.stage),
    row("substage", config.substage, o.substage),
    row("execution", config.execution, o.execution),
    row("persistent", config.persistent, o.persistent),
    row("level", config.level),
  ];
  for (const [service, clients] of Object.entries(describeClients(config))) {
    if (clients.length === 0) lines.push(row(service, "none"));
    for (const client of clients) lines.push(row(service, client.where, client.origin));
  }
  for (const note of config.notes) lines.push(`note: ${note}`);
  return `${lines.join("\n")}\n`;
}

function toJson(config: SeamlessConfig): unknown {
  const strip = (c: ClientChoice) => (c.kind === "launch" ? { ...c, plan: { ...c.plan } } : c);
  return {
    ...config,
    clients: Object.fromEntries(Object.entries(config.clients).map(([k, list]) => [k, list.map(strip)])),
    running: Object.fromEntries(Object.entries(describeClients(config)).map(([k, list]) => [k, list.map((c) => c.url ?? null)])),
  };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const config = resolveConfig(process.env, process.cwd(), { project: values.project as string | undefined, stage: values.stage as string | undefined });
  writeStdout(values.json ? `${JSON.stringify(toJson(config), null, 2)}\n` : describe(config));
  return 0;
}
