/**
 * The launch plan of one service for a cluster, project and stage (services-spec §5.1): the
 * remote-http-launcher key, the work directory and the service's command line.
 * @module
 */
import { join } from "node:path";
import type { Cluster, Frontend } from "./_clusters.ts";
import { ConfigError } from "./config-error.ts";

/** Services that are launched on demand. */
export type LaunchedService = "hashserver" | "database" | "jobserver";

/** Everything the launcher needs to find or start one server. */
export interface LaunchPlan {
  service: LaunchedService;
  /** remote-http-launcher key, e.g. `hashserver-local-rw-myproject--STAGE-prod`. */
  key: string;
  cluster: string;
  mode: "ro" | "rw";
  /** Work directory on the frontend (`~` is expanded there). */
  workdir: string;
  /** The service's argv after the binary; `{status_file}` is filled in by the launcher. */
  args: string[];
  /** True when the server runs on this machine (the local cluster). */
  local: boolean;
  /** The frontend's name as clients reach it (remote frontends). */
  hostname: string | null;
  /** SSH destination for a remote frontend (ssh_hostname, else hostname). */
  sshHostname: string | null;
  tunnel: boolean;
  networkInterface: string | null;
  /** Our binary on the frontend. */
  seamlessBinary: string;
  /** The server's inactivity timeout (services-spec §5.1: 600 s). */
  timeoutSeconds: number;
  /** `file_parameters` for the status file (services-spec §5.1): a jobserver's buffer and database clients. */
  parameters?: Record<string, unknown>;
}

/** The placeholder the launcher replaces with the server JSON path. */
export const STATUS_FILE_PLACEHOLDER = "{status_file}";

/** Project, subproject, stage and substage of a launch. */
export interface PlanScope {
  project: string;
  subproject: string | null;
  stage: string | null;
  substage: string | null;
}

/** `/<project>[/<subproject>]` + `/STAGE-<stage>` (services-spec §5.1). */
export function scopeDirOf(scope: PlanScope): string {
  return `/${scope.project}${scope.subproject ? `/${scope.subproject}` : ""}${scope.stage ? `/STAGE-${scope.stage}` : ""}`;
}

function keySuffixOf(dir: string): string {
  return dir.replace(/^\/+|\/+$/g, "").replaceAll("/", "--");
}

/**
 * Builds the launch plan of `service` on the first frontend of `cluster` that offers it.
 *
 * @param isLocal whether `cluster` is this machine's cluster (no SSH, no hostname)
 * @throws {ConfigError} when no frontend offers the service
 */
export function planLaunch(service: LaunchedService, mode: "ro" | "rw", cluster: Cluster, scope: PlanScope, isLocal: boolean): LaunchPlan {
  const frontend: Frontend | undefined = cluster.frontends.find((f) => f[service] !== null);
  if (!frontend) throw new ConfigError(`No frontend of cluster "${cluster.name}" can support a ${service} (defined in "${cluster.origin}")`);
  const location = frontend[service]!;
  const scopeDir = scopeDirOf(scope);
  const range = location.portStart !== null ? ["--port-range", String(location.portStart), String(location.portEnd)] : [];
  const host = location.networkInterface ? ["--host", location.networkInterface] : [];
  const timeoutSeconds = 600;
  let key: string;
  let workdir: string;
  let args: string[];
  if (service === "jobserver") {
    const stageSubdir = scope.stage ? `/STAGE-${scope.stage}${scope.substage ? `SUBSTAGE-${scope.substage}` : ""}` : "";
    key = `jobserver-${cluster.name}-rw-${keySuffixOf(`/${scope.project}${scope.subproject ? `/${scope.subproject}` : ""}${stageSubdir}`)}`;
    workdir = "/tmp";
    args = ["jobserver", ...(cluster.workers ? ["--workers", String(cluster.workers)] : []), ...range, "--status-file", STATUS_FILE_PLACEHOLDER, ...host, "--timeout", String(timeoutSeconds)];
  } else {
    key = `${service}-${cluster.name}-${mode}-${keySuffixOf(scopeDir)}`;
    workdir = join(location.directory!, scopeDir);
    // Without a port range the Python hashserver takes port 8000, so two projects collide;
    // ours takes any free port (QUIRK fixed, README compatibility notes).
    const port = range.length ? range : service === "hashserver" ? ["--port", "0"] : [];
    args = service === "hashserver"
      ? ["hashserver", ...port, "--status-file", STATUS_FILE_PLACEHOLDER, ...host, "--timeout", String(timeoutSeconds), workdir, ...(mode === "rw" ? ["--writable"] : [])]
      : ["database", ...port, "--status-file", STATUS_FILE_PLACEHOLDER, ...host, "--timeout", String(timeoutSeconds), ...(mode === "rw" ? ["--writable"] : []), join(workdir, "seamless.db")];
  }
  return {
    service,
    key,
    cluster: cluster.name,
    mode,
    workdir,
    args,
    local: isLocal,
    hostname: isLocal ? null : frontend.hostname,
    sshHostname: isLocal ? null : frontend.sshHostname ?? frontend.hostname,
    tunnel: !isLocal && cluster.tunnel,
    networkInterface: location.networkInterface,
    seamlessBinary: frontend.seamlessBinary,
    timeoutSeconds,
  };
}
