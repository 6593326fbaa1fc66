/**
 * The client side of launching (services-spec §5.2): reuse the client JSON when its server
 * answers, else find or start the server (here, or on the frontend over SSH), write the client
 * JSON (direct or tunneled) and hand back the URL.
 * @module
 */
import type { LaunchPlan } from "../config/mod.ts";
import { decodeClientRecord, decodeServerRecord, urlOfClientRecord, type ClientRecord, type ServerRecord } from "../wire/launcher.ts";
import { clientFileOf, readIfExists, removeFile, writeLauncherJson } from "./_files.ts";
import { handshake, handshakeWithRetries } from "./_handshake.ts";
import { openTunnel, runOverSsh } from "./_ssh.ts";
import { LaunchError } from "./launch-error.ts";
import { startServiceHere } from "./start-service.ts";
import type { Log } from "../log.ts";

/** What the launcher needs besides the plan. */
export interface LaunchContext {
  launcherDir: string;
  home: string;
  /** How to run our own binary locally. */
  executable: string[];
  sshConfigFile: string | null;
  /** Says what is launched ("Launched hashserver …", level 1). */
  log?: Log;
}

/** SSH calls that launch a service wait at most this long (start-up included). */
const SSH_LAUNCH_TIMEOUT_MS = 120_000;

/**
 * The URL of the plan's server, launching it if needed.
 *
 * @param plan from the configuration
 * @param context launcher directory, our binary, SSH settings
 * @returns `http://host:port`
 * @throws {LaunchError} when the server cannot be found or started (naming its log), or SSH fails
 * @example Reusing a running local hashserver
 * ```ts
 * const url = await ensureService(config.clients.buffer[0].plan, context);
 * assert(url.startsWith("http://"));
 * ```
 */
export async function ensureService(plan: LaunchPlan, context: LaunchContext): Promise<string> {
  const clientFile = clientFileOf(context.launcherDir, plan.key);
  const known = decodeClientRecord(readIfExists(clientFile) ?? "");
  if (known && known.status !== "stale") {
    const url = urlOfClientRecord(known);
    if (await handshake(url)) return url;
  }
  removeFile(clientFile);
  const server = plan.local ? await startLocally(plan, context) : await startOverSsh(plan, context);
  const record = await clientRecordFor(plan, server, context);
  const url = urlOfClientRecord(record);
  if (!(await handshakeWithRetries(url, 5, 300))) {
    throw new LaunchError(`Cannot reach "${plan.key}" at ${url}${record["tunneled-port"] ? " through its SSH tunnel" : ""}; server log "${server.log}"${plan.local ? "" : ` on ${plan.sshHostname}`}`);
  }
  writeLauncherJson(clientFile, record);
  return url;
}

function startLocally(plan: LaunchPlan, context: LaunchContext): Promise<ServerRecord> {
  return startServiceHere({
    key: plan.key,
    workdir: plan.workdir,
    args: plan.args,
    launcherDir: context.launcherDir,
    executable: context.executable,
    networkInterface: plan.networkInterface,
    home: context.home,
    log: context.log,
    parameters: plan.parameters,
  });
}

async function startOverSsh(plan: LaunchPlan, context: LaunchContext): Promise<ServerRecord> {
  const target = { destination: plan.sshHostname!, configFile: context.sshConfigFile };
  context.log?.message(1, `Launching ${plan.service} "${plan.key}" on ${plan.sshHostname} over SSH`);
  const argv = [plan.seamlessBinary, "launch-service", "--key", plan.key, "--workdir", plan.workdir];
  if (plan.networkInterface) argv.push("--network-interface", plan.networkInterface);
  if (plan.parameters) argv.push("--parameters", JSON.stringify(plan.parameters));
  argv.push("--", ...plan.args);
  const output = await runOverSsh(target, argv, SSH_LAUNCH_TIMEOUT_MS);
  const record = decodeServerRecord(output.trim().split("\n").at(-1) ?? "");
  if (!record || typeof record.port !== "number") throw new LaunchError(`SSH to "${plan.sshHostname}": "launch-service" gave no server record (output: ${output.slice(0, 200)})`);
  return record;
}

async function clientRecordFor(plan: LaunchPlan, server: ServerRecord, context: LaunchContext): Promise<ClientRecord> {
  const port = server.port!;
  const interfaceHost = server.network_interface && server.network_interface !== "0.0.0.0" ? server.network_interface : "localhost";
  if (plan.tunnel) {
    const target = { destination: plan.sshHostname!, configFile: context.sshConfigFile };
    const tunnel = await openTunnel(target, interfaceHost, port);
    return {
      hostname: "localhost",
      port: tunnel.localPort,
      "tunneled-host": plan.hostname!,
      "tunneled-port": port,
      "tunneled-network-interface": interfaceHost,
      "tunnel-pid": tunnel.pid,
    };
  }
  const hostname = plan.local ? interfaceHost : plan.hostname!;
  return { hostname, port, ...(plan.local ? {} : { ssh_hostname: plan.sshHostname! }) };
}
