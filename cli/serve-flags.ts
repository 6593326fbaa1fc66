/**
 * The flags every server command shares (services-spec §1): `--port` or `--port-range`,
 * `--host`, `--status-file`, `--timeout`, parsed and validated once for all services.
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { validatePortRange, type PortChoice } from "../lib/servers/serve.ts";
import type { OptionSpec } from "./args.ts";

/** The option table of the shared flags; `defaultPort` only shapes the help text. */
export function serveOptions(defaultPort: string): OptionSpec[] {
  return [
    { key: "port", names: ["--port"], kind: "value", metavar: "N", help: `port to listen on (default ${defaultPort})` },
    { key: "portRange", names: ["--port-range"], kind: "pair", metavar: "START END", help: "pick a random free port in this inclusive range" },
    { key: "host", names: ["--host"], kind: "value", metavar: "H", help: "address to bind (default 127.0.0.1)" },
    { key: "statusFile", names: ["--status-file"], kind: "value", metavar: "F", help: "status file protocol of remote-http-launcher" },
    { key: "timeout", names: ["--timeout"], kind: "value", metavar: "S", help: "stop after S seconds without requests" },
  ];
}

/** What the shared flags say. */
export interface ServeFlags {
  host: string;
  port: PortChoice;
  statusFile?: string;
  timeoutSeconds?: number;
}

/**
 * Reads the shared flags.
 *
 * @throws {UsageError} for both `--port` and `--port-range`, a bad port, range or timeout
 */
export function serveFlagsOf(values: Record<string, unknown>, defaultPort: PortChoice): ServeFlags {
  if (values.port !== undefined && values.portRange !== undefined) throw new UsageError("--port and --port-range are mutually exclusive");
  let port = defaultPort;
  if (values.port !== undefined) {
    const n = Number(values.port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`invalid port "${values.port}"`);
    port = { port: n };
  } else if (values.portRange) {
    const [a, b] = (values.portRange as string[]).map(Number) as [number, number];
    validatePortRange(a, b);
    port = { range: [a, b] };
  }
  let timeoutSeconds: number | undefined;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (!(timeoutSeconds > 0)) throw new UsageError("--timeout must be a positive number");
  }
  return { host: (values.host as string | undefined) ?? "127.0.0.1", port, statusFile: values.statusFile as string | undefined, timeoutSeconds };
}
