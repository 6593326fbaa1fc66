/**
 * One {@link SeamlessConfig} from the environment and the configuration files: the only place
 * that reads `SEAMLESS_*` variables and `seamless.yaml`/`clusters.yaml`.
 * @module
 */
import { os } from "../disk/lazy-node.ts";
import { join } from "node:path";
import { addClusters, readClusterFiles, type Cluster, type ClusterSet } from "./_clusters.ts";
import { applyCommands, checkName, collectCommands, describeSource, expandStages, type SelectedSettings } from "./_commands.ts";
import { ConfigError } from "./config-error.ts";
import { planLaunch, type LaunchPlan } from "./launch-plan.ts";

/** Environment variables, as `process.env`. */
export type Env = Record<string, string | undefined>;

/** How the buffer, database and jobserver clients were chosen (services-spec §6.6, cli-spec §3.3). */
export type ConfigSource = "SEAMLESS_CACHE" | "SEAMLESS_REMOTE_CLIENTS" | "config files" | "embedded default";

/** One client of a service. */
export type ClientChoice =
  | { kind: "folder"; directory: string; readonly: boolean; origin: string }
  | { kind: "sqlite"; path: string; origin: string }
  | { kind: "url"; url: string; readonly: boolean; origin: string }
  | { kind: "launch"; plan: LaunchPlan; readonly: boolean; origin: string };

/** The resolved configuration. */
export interface SeamlessConfig {
  source: ConfigSource;
  /** The local cache directory: embedded buffers and results, stat cache, locks. */
  cacheDir: string;
  /** Configuration files read, parents first. */
  files: string[];
  cluster: string | null;
  /** The cluster this machine belongs to (its servers run here). */
  localCluster: string | null;
  project: string | null;
  subproject: string | null;
  stage: string | null;
  substage: string | null;
  execution: "process" | "spawn" | "remote";
  remote: "jobserver" | "daskserver" | null;
  persistent: boolean;
  record: boolean;
  nparallel: number | null;
  node: string | null;
  queue: string | null;
  /** Where each setting came from (`"/p/seamless.yaml", item 2`, `--project`, `default`). */
  origins: Record<string, string>;
  /** Delegation level for `seamless run` (services-spec §7.1): 0 embedded … 3 jobserver. */
  level: 0 | 1 | 2 | 3;
  clients: { buffer: ClientChoice[]; database: ClientChoice[]; jobserver: ClientChoice[] };
  /** Things the user should know (e.g. execution remote without jobserver support). */
  notes: string[];
  /** remote-http-launcher state directory. */
  launcherDir: string;
  /** The home directory (`~` in cluster paths). */
  home: string;
  /** `SEAMLESS_SSH_CONFIG`: an ssh_config file passed to ssh with -F. */
  sshConfigFile: string | null;
  /** Confirmation thresholds of upload/download (cli-spec §3.20), as given. */
  limits: { maxUploadFiles: string | null; maxUploadSize: string | null; maxDownloadFiles: string | null; maxDownloadSize: string | null };
  /** `SEAMLESS_DATABASE_MAX_INFLIGHT` (services-spec §6.1), as given. */
  databaseMaxInflight: string | null;
}

/** Command-line selections that override the files. */
export interface ConfigFlags {
  /** `--project P[:SUB]`. */
  project?: string;
  /** `--stage S[:SUB]`. */
  stage?: string;
  /** `--hashserver URL`. */
  hashserver?: string;
}

/** Splits `P[:SUB]`; an empty head is an error, an empty tail is ignored (cli-spec §3.1). */
export function splitScope(value: string, flag: "--project" | "--stage"): [string, string | null] {
  const colon = value.indexOf(":");
  const head = colon < 0 ? value : value.slice(0, colon);
  const tail = colon < 0 ? "" : value.slice(colon + 1);
  if (!head) throw new ConfigError(`Invalid ${flag} "${value}": the name before ":" is empty`);
  return [head, tail || null];
}

/** The cache directory: `$SEAMLESS_CACHE`, else `$XDG_CACHE_HOME/seamless`, else `~/.cache/seamless`. */
export function cacheDirOf(env: Env): string {
  const explicit = env.SEAMLESS_CACHE?.trim();
  if (explicit) return explicit;
  const xdg = env.XDG_CACHE_HOME?.trim();
  return join(xdg || join(homeOf(env), ".cache"), "seamless");
}

/** The remote-http-launcher state directory: `$REMOTE_HTTP_LAUNCHER_DIR`, else `~/.remote-http-launcher`. */
export function launcherDirOf(env: Env): string {
  return expandHome(env.REMOTE_HTTP_LAUNCHER_DIR?.trim() || "~/.remote-http-launcher", env);
}

/** The home directory: `$HOME`, else the account's. */
export function homeOf(env: Env): string {
  return env.HOME || os().homedir();
}

function expandHome(path: string, env: Env): string {
  return path === "~" || path.startsWith("~/") ? homeOf(env) + path.slice(1) : path;
}

/**
 * Parses `SEAMLESS_REMOTE_CLIENTS` (services-spec §6.5) as `set_remote_clients(clients)` does
 * by default: `url` (the client-side address), else `remote_url`; `directory`, else
 * `remote_directory`.
 */
function parseRemoteClients(text: string, env: Env): { buffer: ClientChoice[]; database: ClientChoice[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // QUIRK: Python ignores a parse error silently and still counts as configured.
    throw new ConfigError(`Cannot read SEAMLESS_REMOTE_CLIENTS: not valid JSON (${(error as Error).message})`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new ConfigError(`Cannot read SEAMLESS_REMOTE_CLIENTS: expected a JSON object with "buffer" and "database" lists`);
  const lists = value as Record<string, unknown>;
  const entries = (name: "buffer" | "database"): Record<string, unknown>[] => {
    const list = lists[name] ?? [];
    if (!Array.isArray(list) || list.some((e) => !e || typeof e !== "object")) throw new ConfigError(`Cannot read SEAMLESS_REMOTE_CLIENTS: "${name}" must be a list of objects`);
    return list as Record<string, unknown>[];
  };
  const text_ = (v: unknown) => (typeof v === "string" && v ? v : null);
  const buffer = entries("buffer").flatMap((e, i): ClientChoice[] => {
    const origin = `SEAMLESS_REMOTE_CLIENTS buffer[${i}]`;
    const readonly = e.readonly !== false;
    const url = text_(e.url) ?? text_(e.remote_url);
    if (url) return [{ kind: "url", url, readonly, origin }];
    const directory = text_(e.directory) ?? text_(e.remote_directory);
    if (directory) return [{ kind: "folder", directory: expandHome(directory, env), readonly: true, origin }];
    return [];
  });
  const database = entries("database").flatMap((e, i): ClientChoice[] => {
    const url = text_(e.url) ?? text_(e.remote_url);
    return url ? [{ kind: "url", url, readonly: e.readonly !== false, origin: `SEAMLESS_REMOTE_CLIENTS database[${i}]` }] : [];
  });
  return { buffer, database };
}

function levelOf(clients: SeamlessConfig["clients"]): 0 | 1 | 2 | 3 {
  const remote = (list: ClientChoice[]) => list.some((c) => c.kind === "url" || c.kind === "launch");
  if (remote(clients.jobserver)) return 3;
  if (remote(clients.database)) return 2;
  if (remote(clients.buffer)) return 1;
  return 0;
}

function embeddedClients(cacheDir: string, origin: string): SeamlessConfig["clients"] {
  const project = join(cacheDir, "__TOPLEVEL__");
  return {
    buffer: [{ kind: "folder", directory: project, readonly: false, origin }],
    database: [{ kind: "sqlite", path: join(project, "seamless.db"), origin }],
    jobserver: [],
  };
}

/**
 * Resolves the configuration. Precedence (services-spec §6.6, cli-spec §3.3):
 * `SEAMLESS_CACHE` → `SEAMLESS_REMOTE_CLIENTS` → `seamless.yaml`/`seamless.profile.yaml` with a
 * cluster → the embedded default (`~/.cache/seamless`; Python refuses to run instead).
 * `--hashserver`/`SEAMLESS_HASHSERVER` and `SEAMLESS_DATABASE` then override the buffer and
 * database clients.
 *
 * @param env the environment (`process.env`)
 * @param cwd the directory whose `seamless.yaml` counts
 * @param flags `--project`, `--stage`, `--hashserver`
 * @returns the configuration
 * @throws {ConfigError} naming the file and item for bad YAML, an unknown command, a bad
 *   argument or an undefined cluster
 * @example Embedded default
 * ```ts
 * const config = resolveConfig({ HOME: "/home/u" }, "/tmp");
 * assertEquals(config.level, 0);
 * assertEquals(config.cacheDir, "/home/u/.cache/seamless");
 * ```
 */
export function resolveConfig(env: Env, cwd: string, flags: ConfigFlags = {}): SeamlessConfig {
  const cacheDir = cacheDirOf(env);
  const [flagProject, flagSubproject] = flags.project !== undefined ? splitScope(flags.project, "--project") : [null, null];
  const [flagStage, flagSubstage] = flags.stage !== undefined ? splitScope(flags.stage, "--stage") : [null, null];
  for (const [name, kind] of [[flagProject, "project"], [flagSubproject, "subproject"], [flagStage, "stage"], [flagSubstage, "substage"]] as const) {
    const problem = name === null ? null : checkName(name, kind);
    if (problem) throw new ConfigError(`Invalid --${kind === "subproject" ? "project" : kind === "substage" ? "stage" : kind}: ${problem}`);
  }
  const config: SeamlessConfig = {
    source: "embedded default",
    cacheDir,
    files: [],
    cluster: null,
    localCluster: null,
    project: flagProject,
    subproject: flagSubproject,
    stage: flagStage,
    substage: flagSubstage,
    execution: "process",
    remote: null,
    persistent: false,
    record: false,
    nparallel: null,
    node: null,
    queue: null,
    origins: {},
    level: 0,
    clients: embeddedClients(cacheDir, "embedded default"),
    notes: [],
    launcherDir: launcherDirOf(env),
    home: homeOf(env),
    sshConfigFile: env.SEAMLESS_SSH_CONFIG?.trim() || null,
    limits: {
      maxUploadFiles: env.SEAMLESS_MAX_UPLOAD_FILES ?? null,
      maxUploadSize: env.SEAMLESS_MAX_UPLOAD_SIZE ?? null,
      maxDownloadFiles: env.SEAMLESS_MAX_DOWNLOAD_FILES ?? null,
      maxDownloadSize: env.SEAMLESS_MAX_DOWNLOAD_SIZE ?? null,
    },
    databaseMaxInflight: env.SEAMLESS_DATABASE_MAX_INFLIGHT ?? null,
  };
  if (flagProject) config.origins.project = "--project";
  if (flagSubproject) config.origins.subproject = "--project";
  if (flagStage) config.origins.stage = "--stage";
  if (flagSubstage) config.origins.substage = "--stage";

  if (env.SEAMLESS_CACHE?.trim()) {
    // services-spec §7.3: one directory; we read it directly instead of launching servers on it.
    config.source = "SEAMLESS_CACHE";
    config.clients = embeddedClients(cacheDir, "SEAMLESS_CACHE");
    config.project ??= "__TOPLEVEL__";
    config.persistent = true;
  } else if (env.SEAMLESS_REMOTE_CLIENTS?.trim()) {
    config.source = "SEAMLESS_REMOTE_CLIENTS";
    const { buffer, database } = parseRemoteClients(env.SEAMLESS_REMOTE_CLIENTS, env);
    config.clients = { buffer: buffer.length ? buffer : config.clients.buffer, database: database.length ? database : config.clients.database, jobserver: [] };
    config.persistent = true;
  } else {
    applyConfigFiles(config, env, cwd);
  }

  const hashserver = flags.hashserver?.trim() || env.SEAMLESS_HASHSERVER?.trim();
  if (hashserver) config.clients.buffer = [{ kind: "url", url: hashserver, readonly: false, origin: flags.hashserver?.trim() ? "--hashserver" : "SEAMLESS_HASHSERVER" }];
  const database = env.SEAMLESS_DATABASE?.trim();
  if (database) {
    // Read first and written; database servers already configured stay behind it.
    const servers = config.clients.database.filter((c) => c.kind !== "sqlite");
    config.clients.database = [{ kind: "url", url: database, readonly: false, origin: "SEAMLESS_DATABASE" }, ...servers];
  }
  const jobserver = env.SEAMLESS_JOBSERVER?.trim();
  if (jobserver) {
    config.clients.jobserver = [{ kind: "url", url: jobserver, readonly: false, origin: "SEAMLESS_JOBSERVER" }];
    config.execution = "remote";
    config.remote = "jobserver";
  }
  config.level = levelOf(config.clients);
  return config;
}

function applyConfigFiles(config: SeamlessConfig, env: Env, cwd: string): void {
  const { files, commands: raw } = collectCommands(cwd);
  if (files.length === 0) return;
  config.source = "config files";
  config.files = files;
  const commands = expandStages(raw, config.stage);
  const { settings, origins } = applyCommands(commands);
  const fromFiles = (key: keyof SelectedSettings) => origins[key] !== undefined;
  if (settings.project !== undefined && !config.origins.project) [config.project, config.origins.project] = [settings.project, origins.project!];
  if (settings.subproject !== undefined && !config.origins.subproject && !config.origins.project?.startsWith("--")) [config.subproject, config.origins.subproject] = [settings.subproject, origins.subproject!];
  for (const key of ["cluster", "remote", "record", "nparallel", "node", "queue"] as const) {
    if (fromFiles(key)) {
      (config as unknown as Record<string, unknown>)[key] = settings[key] ?? null;
      config.origins[key] = origins[key]!;
    }
  }
  const clusterCommands = commands.filter((c) => c.name === "clusters");
  const clusterName = config.cluster;
  config.execution = settings.execution ?? (clusterName ? "remote" : "process");
  config.origins.execution = origins.execution ?? "default";
  config.persistent = settings.persistent ?? clusterName !== null;
  config.origins.persistent = origins.persistent ?? "default";
  if (config.execution === "remote" && !clusterName) {
    throw new ConfigError(`Bad configuration: execution "remote" needs a cluster (set in ${origins.execution})`);
  }
  if (!clusterName) return;

  // Cluster definitions are read only when a cluster is selected: a seamless.yaml without one
  // costs no extra file reads.
  const set: ClusterSet = readClusterFiles(homeOf(env));
  for (const command of clusterCommands) addClusters(set, command.argument, describeSource(command.source));
  const cluster = set.clusters.get(clusterName);
  if (!cluster) {
    const known = [...set.clusters.keys()];
    throw new ConfigError(
      `Bad command in ${origins.cluster}: cluster "${clusterName}" is not defined in ~/.seamless/clusters.yaml, ~/.seamless/clusters/*.yaml or a clusters command${known.length ? ` (known: ${known.join(", ")})` : ""}`,
    );
  }
  config.localCluster = set.localCluster;
  if (set.localClusterOrigin) config.origins.localCluster = set.localClusterOrigin;
  if (config.queue !== null && !cluster.queues.includes(config.queue)) {
    throw new ConfigError(`Bad command in ${origins.queue}: cluster "${clusterName}" has no queue "${config.queue}"`);
  }
  if (!config.project) {
    throw new ConfigError(`Bad configuration: cluster "${clusterName}" is selected (${origins.cluster}) but no project; add "- project: NAME" or pass --project`);
  }
  planClients(config, cluster, set);
}

function isLocalCluster(cluster: Cluster, set: ClusterSet): boolean {
  if (set.localCluster !== null) return set.localCluster === cluster.name;
  // No local_cluster anywhere: a local-type cluster without SSH is this machine.
  return cluster.type === "local" && cluster.frontends.every((f) => f.sshHostname === null);
}

function planClients(config: SeamlessConfig, cluster: Cluster, set: ClusterSet): void {
  const scope = { project: config.project!, subproject: config.subproject, stage: config.stage, substage: config.substage };
  const local = isLocalCluster(cluster, set);
  const origin = `cluster "${cluster.name}" (${cluster.origin})`;
  if (!config.persistent) {
    config.clients = embeddedClients(config.cacheDir, "embedded default (persistent: false)");
    config.notes.push(`persistent is false: no hashserver or database of cluster "${cluster.name}" is used`);
    return;
  }
  const hasService = (service: "hashserver" | "database" | "jobserver") => cluster.frontends.some((f) => f[service] !== null);
  config.clients = {
    buffer: hasService("hashserver") ? [{ kind: "launch", plan: planLaunch("hashserver", "rw", cluster, scope, local), readonly: false, origin }] : config.clients.buffer,
    database: hasService("database") ? [{ kind: "launch", plan: planLaunch("database", "rw", cluster, scope, local), readonly: false, origin }] : config.clients.database,
    jobserver: [],
  };
  if (config.execution === "remote") {
    const remote = config.remote ?? (hasService("jobserver") ? "jobserver" : null);
    if (remote === "jobserver" && hasService("jobserver")) {
      // Level 3: the jobserver is launched by delegation (lib/delegation/open-jobserver.ts).
      config.clients.jobserver = [{ kind: "launch", plan: planLaunch("jobserver", "rw", cluster, scope, local), readonly: false, origin }];
    } else {
      config.notes.push(`execution "remote" needs a jobserver, and cluster "${cluster.name}" has none${remote === "daskserver" ? " (daskserver is not supported)" : ""}: transformations run locally`);
    }
  }
}
