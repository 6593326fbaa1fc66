import { UsageError } from "../lib/errors.ts";
import { homeOf, launcherDirOf } from "../lib/config/mod.ts";
import { selfCommand, startServiceHere } from "../lib/launcher/mod.ts";
import { parseOrHelp, type CommandSpec } from "./args.ts";
import { writeStdout } from "./stdio.ts";
import { commandLog } from "./output.ts";

export const spec: CommandSpec = {
  name: "launch-service",
  usage: "seamless launch-service --key K --workdir W [--network-interface NI] -- SERVICE ARGS...",
  summary:
    "Find or start a service on this machine for remote-http-launcher key K and print its server JSON\n" +
    "(what a client runs over SSH on a cluster frontend; services-spec §5.2). SERVICE is hashserver,\n" +
    "database or jobserver; \"{status_file}\" in ARGS becomes the server JSON path.",
  positionals: "some",
  options: [
    { key: "key", names: ["--key"], kind: "value", metavar: "K", help: "launcher key, e.g. hashserver-local-rw-myproject" },
    { key: "workdir", names: ["--workdir"], kind: "value", metavar: "W", help: "work directory (created; ~ is expanded)" },
    { key: "networkInterface", names: ["--network-interface"], kind: "value", metavar: "NI", help: "interface the service binds" },
    { key: "parameters", names: ["--parameters"], kind: "value", metavar: "JSON", help: "the status file's \"parameters\" (a jobserver's buffer and database clients)" },
  ],
  epilog: "State: $REMOTE_HTTP_LAUNCHER_DIR or ~/.remote-http-launcher (server/<key>.json and <key>.log).",
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv, { requirePositionals: true });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (typeof values.key !== "string" || typeof values.workdir !== "string") throw new UsageError("--key and --workdir are required");
  const record = await startServiceHere({
    key: values.key,
    workdir: values.workdir,
    args: positionals,
    launcherDir: launcherDirOf(process.env),
    executable: selfCommand(),
    networkInterface: values.networkInterface as string | undefined,
    home: homeOf(process.env),
    log: commandLog("launch-service", 1), // everything it says goes back over SSH
    parameters: parametersOf(values.parameters),
  });
  writeStdout(`${JSON.stringify(record)}\n`);
  return 0;
}

function parametersOf(text: unknown): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(String(text));
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {}
  throw new UsageError("--parameters must be a JSON object");
}
