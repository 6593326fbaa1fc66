/**
 * Cluster definitions (services-spec §7.2): `~/.seamless/clusters.yaml`, then
 * `~/.seamless/clusters/*.yaml`, then inline `clusters:` commands, each keyed by cluster name,
 * with an optional top-level `local_cluster: <name>`.
 * @module
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { parseYamlFile } from "./_read-yaml.ts";

/** A hashserver or database on a frontend. */
export interface ServiceLocation {
  /** Buffer directory (hashserver) or database directory (database); jobservers have none. */
  directory: string | null;
  networkInterface: string | null;
  portStart: number | null;
  portEnd: number | null;
}

/** One frontend of a cluster. */
export interface Frontend {
  hostname: string;
  sshHostname: string | null;
  /** Our binary on that host (our extension; default "seamless"). */
  seamlessBinary: string;
  hashserver: ServiceLocation | null;
  database: ServiceLocation | null;
  jobserver: ServiceLocation | null;
}

/** A cluster definition. */
export interface Cluster {
  name: string;
  type: "local" | "slurm" | "oar";
  tunnel: boolean;
  workers: number | null;
  frontends: Frontend[];
  queues: string[];
  defaultQueue: string | null;
  /** The file (or command) that defined it. */
  origin: string;
}

/** Every known cluster plus the name of the one this machine is part of. */
export interface ClusterSet {
  clusters: Map<string, Cluster>;
  localCluster: string | null;
  localClusterOrigin: string | null;
}

const isMapping = (value: unknown): value is Record<string, unknown> => !!value && typeof value === "object" && !Array.isArray(value);

function optionalString(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value === "") throw new ConfigError(`${where}: expected a non-empty string`);
  return value;
}

function optionalPort(value: unknown, where: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) throw new ConfigError(`${where}: expected a port number (1-65535)`);
  return value;
}

function parseService(value: unknown, service: "hashserver" | "database" | "jobserver", where: string): ServiceLocation | null {
  if (value === undefined || value === null) return null;
  if (!isMapping(value)) throw new ConfigError(`${where}.${service}: expected a mapping`);
  const dirKey = service === "hashserver" ? "bufferdir" : service === "database" ? "database_dir" : null;
  const directory = dirKey ? optionalString(value[dirKey], `${where}.${service}.${dirKey}`) : null;
  if (dirKey && directory === null) throw new ConfigError(`${where}.${service}: "${dirKey}" is required`);
  const location: ServiceLocation = {
    directory,
    networkInterface: optionalString(value.network_interface, `${where}.${service}.network_interface`),
    portStart: optionalPort(value.port_start, `${where}.${service}.port_start`),
    portEnd: optionalPort(value.port_end, `${where}.${service}.port_end`),
  };
  if ((location.portStart === null) !== (location.portEnd === null)) {
    throw new ConfigError(`${where}.${service}: give both port_start and port_end, or neither`);
  }
  if (location.portStart !== null && location.portStart > location.portEnd!) throw new ConfigError(`${where}.${service}: port_start is above port_end`);
  if (service === "jobserver" && (location.portStart === null || location.networkInterface === null)) {
    throw new ConfigError(`${where}.jobserver: network_interface, port_start and port_end are required`);
  }
  return location;
}

function parseCluster(name: string, value: unknown, origin: string): Cluster {
  const where = `"${origin}": cluster "${name}"`;
  if (!isMapping(value)) throw new ConfigError(`${where}: expected a mapping`);
  const type = value.type ?? "local";
  if (type !== "local" && type !== "slurm" && type !== "oar") throw new ConfigError(`${where}: type must be local, slurm or oar`);
  if (value.tunnel !== undefined && typeof value.tunnel !== "boolean") throw new ConfigError(`${where}: tunnel must be true or false`);
  const workers = value.workers ?? null;
  if (workers !== null && (typeof workers !== "number" || !Number.isInteger(workers) || workers < 1)) throw new ConfigError(`${where}: workers must be a positive integer`);
  if (!Array.isArray(value.frontends) || value.frontends.length === 0) throw new ConfigError(`${where}: "frontends" must be a non-empty list`);
  const frontends = value.frontends.map((frontend, i): Frontend => {
    const at = `${where}, frontend ${i + 1}`;
    if (!isMapping(frontend)) throw new ConfigError(`${at}: expected a mapping`);
    const hostname = optionalString(frontend.hostname, `${at}.hostname`) ?? (type === "local" ? "localhost" : null);
    if (hostname === null) throw new ConfigError(`${at}: "hostname" is required`);
    return {
      hostname,
      sshHostname: optionalString(frontend.ssh_hostname, `${at}.ssh_hostname`),
      seamlessBinary: optionalString(frontend.seamless_binary, `${at}.seamless_binary`) ?? "seamless",
      hashserver: parseService(frontend.hashserver, "hashserver", at),
      database: parseService(frontend.database, "database", at),
      jobserver: parseService(frontend.jobserver, "jobserver", at),
    };
  });
  const queues = isMapping(value.queues) ? Object.keys(value.queues) : [];
  return {
    name,
    type,
    tunnel: value.tunnel === true,
    workers,
    frontends,
    queues,
    defaultQueue: typeof value.default_queue === "string" ? value.default_queue : null,
    origin,
  };
}

/**
 * Adds the clusters of one mapping (a clusters file or a `clusters:` command) to `set`.
 *
 * @throws {ConfigError} naming `origin` and the cluster when a definition is malformed
 */
export function addClusters(set: ClusterSet, mapping: unknown, origin: string): void {
  if (mapping === null) return;
  if (!isMapping(mapping)) throw new ConfigError(`"${origin}": expected a mapping of cluster definitions`);
  for (const [name, value] of Object.entries(mapping)) {
    if (name === "local_cluster") {
      if (value !== null && typeof value !== "string") throw new ConfigError(`"${origin}": local_cluster must be a cluster name`);
      set.localCluster = value as string | null;
      set.localClusterOrigin = origin;
      continue;
    }
    set.clusters.set(name, parseCluster(name, value, origin));
  }
}

/**
 * Reads `<home>/.seamless/clusters.yaml` and `<home>/.seamless/clusters/*.yaml` (sorted).
 *
 * @throws {ConfigError} on bad YAML or a malformed definition, naming the file
 */
export function readClusterFiles(home: string): ClusterSet {
  const set: ClusterSet = { clusters: new Map(), localCluster: null, localClusterOrigin: null };
  const base = join(home, ".seamless");
  const files = [join(base, "clusters.yaml")];
  const dir = join(base, "clusters");
  if (existsSync(dir)) files.push(...readdirSync(dir).filter((name) => name.endsWith(".yaml")).sort().map((name) => join(dir, name)));
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    addClusters(set, parseYamlFile(text, file), file);
  }
  return set;
}
