/**
 * The command language of `seamless.yaml` and `seamless.profile.yaml` (services-spec §7.2,
 * cli-spec §10): each file is a YAML list of bare strings or single-key mappings; parents are
 * read first when a file says `inherit_from_parent`; `clusters` commands run before all others;
 * `stage <name>` blocks run only in that stage.
 * @module
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { parseYamlFile } from "./_read-yaml.ts";

/** The configuration files of one directory, in reading order. */
export const CONFIG_FILE_NAMES = ["seamless.yaml", "seamless.profile.yaml"] as const;

/** Where a command came from, for messages: `"/p/seamless.yaml", item 3`. */
export interface CommandSource {
  file: string;
  /** 1-based position in the file's list (nested stage items: "4.2"). */
  item: string;
}

/** One parsed command. */
export interface Command {
  name: string;
  argument: unknown;
  source: CommandSource;
}

/** The settings the commands select. */
export interface SelectedSettings {
  project?: string;
  subproject?: string;
  cluster?: string | null;
  execution?: "process" | "spawn" | "remote";
  queue?: string;
  remote?: "jobserver" | "daskserver" | null;
  persistent?: boolean;
  record?: boolean;
  nparallel?: number;
  node?: string | null;
}

/** Where each selected setting came from. */
export type SettingOrigins = Partial<Record<keyof SelectedSettings, string>>;

const COMMAND_NAMES = ["project", "subproject", "cluster", "execution", "queue", "remote", "persistent", "record", "nparallel", "node", "clusters", "inherit_from_parent"];

/** `"/p/seamless.yaml", item 3`. */
export function describeSource(source: CommandSource): string {
  return `"${source.file}", item ${source.item}`;
}

function fail(source: CommandSource, message: string): never {
  throw new ConfigError(`Bad command in ${describeSource(source)}: ${message}`);
}

/** Reads one file as a list of raw items. */
function readCommandList(file: string, text: string): unknown[] {
  const content = parseYamlFile(text, file);
  if (content === null) return [];
  if (!Array.isArray(content)) {
    throw new ConfigError(`Cannot read "${file}": expected a YAML list of commands, for example "- project: myproject"`);
  }
  return content;
}

function commandOf(raw: unknown, source: CommandSource): Command {
  if (typeof raw === "string") return { name: raw, argument: undefined, source };
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    if (keys.length === 1) return { name: keys[0]!, argument: (raw as Record<string, unknown>)[keys[0]!], source };
  }
  fail(source, "each item must be a command name or a mapping with one key");
}

/** The files read and their commands, parents first. */
export interface CollectedCommands {
  files: string[];
  commands: Command[];
}

/**
 * Reads `seamless.yaml` and `seamless.profile.yaml` of `cwd`, and of its parents while a file
 * says `inherit_from_parent`.
 *
 * @param readText reads a file, returning null when it does not exist (injected for tests)
 * @throws {ConfigError} for bad YAML or a file that is not a list
 */
export function collectCommands(cwd: string, readText: (path: string) => string | null = readTextIfExists): CollectedCommands {
  const perDirectory: { files: string[]; commands: Command[] }[] = [];
  let dir = cwd;
  for (;;) {
    const files: string[] = [];
    const commands: Command[] = [];
    let inherit = false;
    for (const name of CONFIG_FILE_NAMES) {
      const file = join(dir, name);
      const text = readText(file);
      if (text === null) continue;
      files.push(file);
      readCommandList(file, text).forEach((raw, i) => {
        const command = commandOf(raw, { file, item: String(i + 1) });
        if (command.name === "inherit_from_parent") inherit = true;
        commands.push(command);
      });
    }
    perDirectory.push({ files, commands });
    const parent = dirname(dir);
    if (!inherit || parent === dir) break;
    dir = parent;
  }
  perDirectory.reverse();
  return { files: perDirectory.flatMap((d) => d.files), commands: perDirectory.flatMap((d) => d.commands) };
}

function readTextIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new ConfigError(`Cannot read "${path}": ${(error as Error).message}`);
  }
}

/**
 * Expands `stage <name>` blocks for the current stage and drops `inherit_from_parent`.
 *
 * @throws {ConfigError} for an unknown command or a stage block that is not a list
 */
export function expandStages(commands: Command[], stage: string | null): Command[] {
  const out: Command[] = [];
  for (const command of commands) {
    if (command.name === "inherit_from_parent") {
      if (command.argument !== undefined && command.argument !== null) fail(command.source, `"inherit_from_parent" takes no argument`);
      continue;
    }
    if (command.name.startsWith("stage ") && command.name.slice(6).trim()) {
      const name = command.name.slice(6).trim();
      if (!Array.isArray(command.argument)) fail(command.source, `"stage ${name}" must be followed by a list of commands`);
      if (name !== stage) continue;
      const nested = command.argument.map((raw, i) => commandOf(raw, { file: command.source.file, item: `${command.source.item}.${i + 1}` }));
      out.push(...expandStages(nested, stage));
      continue;
    }
    if (!COMMAND_NAMES.includes(command.name)) fail(command.source, `unknown command "${command.name}"`);
    out.push(command);
  }
  return out;
}

const NAME_FORBIDDEN = ["--", "STAGE-", "/"];
const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * Checks a project, cluster or stage name (services-spec §7.2: no `--`, `STAGE-` or `/`; and
 * only characters a launcher key may hold). Subprojects may hold `/`.
 *
 * @returns an error text, or null when the name is fine
 */
export function checkName(name: string, kind: "project" | "subproject" | "cluster" | "stage" | "substage"): string | null {
  if (name === "") return `${kind} name is empty`;
  if (kind === "subproject") {
    if (name.split("/").some((part) => !SAFE_NAME.test(part) || part.includes("--") || part.includes("STAGE-"))) return `invalid subproject "${name}"`;
    return null;
  }
  const bad = NAME_FORBIDDEN.find((piece) => name.includes(piece));
  if (bad) return `${kind} name "${name}" may not contain "${bad}"`;
  if (!SAFE_NAME.test(name)) return `${kind} name "${name}" may hold only letters, digits, ".", "_" and "-"`;
  return null;
}

/**
 * Applies the non-cluster commands in order.
 *
 * @throws {ConfigError} naming the file and item for a bad argument
 */
export function applyCommands(commands: Command[]): { settings: SelectedSettings; origins: SettingOrigins } {
  const settings: SelectedSettings = {};
  const origins: SettingOrigins = {};
  for (const { name, argument, source } of commands) {
    if (name === "clusters") continue;
    const set = <K extends keyof SelectedSettings>(key: K, value: SelectedSettings[K]) => {
      settings[key] = value;
      origins[key] = describeSource(source);
    };
    switch (name) {
      case "project":
      case "subproject": {
        if (typeof argument !== "string") fail(source, `"${name}" expects a string`);
        const problem = checkName(argument, name);
        if (problem) fail(source, problem);
        set(name, argument);
        break;
      }
      case "cluster": {
        if (argument !== null && typeof argument !== "string") fail(source, `"cluster" expects a string or null`);
        if (typeof argument === "string") {
          const problem = checkName(argument, "cluster");
          if (problem) fail(source, problem);
        }
        set("cluster", argument as string | null);
        break;
      }
      case "execution":
        if (argument !== "process" && argument !== "spawn" && argument !== "remote") fail(source, `"execution" must be process, spawn or remote`);
        set("execution", argument);
        break;
      case "queue":
        if (typeof argument !== "string" || !argument) fail(source, `"queue" expects a string`);
        set("queue", argument);
        break;
      case "remote":
        if (argument !== null && argument !== "jobserver" && argument !== "daskserver") fail(source, `"remote" must be null, jobserver or daskserver`);
        set("remote", argument as "jobserver" | "daskserver" | null);
        break;
      case "persistent":
      case "record":
        if (typeof argument !== "boolean") fail(source, `"${name}" expects true or false`);
        set(name, argument);
        break;
      case "nparallel":
        if (typeof argument !== "number" || !Number.isInteger(argument) || argument < 1) fail(source, `"nparallel" expects an integer of at least 1`);
        set("nparallel", argument);
        break;
      case "node":
        if (argument !== null && typeof argument !== "string") fail(source, `"node" expects a string or null`);
        set("node", argument as string | null);
        break;
    }
  }
  return { settings, origins };
}
