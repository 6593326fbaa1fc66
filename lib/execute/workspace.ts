/**
 * The temporary workspace of a bash transformation (cli-spec §3.16): pins materialized as
 * verified copies of their buffers (never links into the store: QUIRK, Python symlinks); directories
 * rebuilt from their deep index; variables as files and environment variables.
 * @module
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { os } from "../disk/lazy-node.ts";
import { dirname, join, resolve } from "node:path";
import type { Checksum } from "../checksum/checksum.ts";
import type { BufferStore } from "../buffers/store.ts";
import { parseIndexText } from "../checksum/sidecar.ts";
import { compress, compressionSuffixOf } from "../checksum/compression.ts";
import { parsePlain, type PlainValue } from "../serialize/plain-json.ts";
import { NotFoundError, SeamlessError, type CorruptBufferError } from "../errors.ts";
import type { TransformationDict } from "../transformation/dict.ts";
import { LinkedInputs } from "./_linked-inputs.ts";
import { isProcessAlive, ownerTag } from "../process/process-tree.ts";

/** Workspaces are named `<prefix><pid>-<startTicks>-XXXXXX`, so a later run can tell whose they are. */
const WORKSPACE_PREFIX = "seamless-bash-transformer-";

function workspaceRoot(): string {
  return process.env.TMPDIR || os().tmpdir();
}

/**
 * Removes the workspaces of runs that are gone (a run killed with SIGKILL cannot remove its own).
 *
 * @returns the directories removed
 */
export function reapAbandonedWorkspaces(): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(workspaceRoot());
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(WORKSPACE_PREFIX)) continue;
    const [pid, ticks] = name.slice(WORKSPACE_PREFIX.length).split("-");
    if (!/^\d+$/.test(pid ?? "") || !/^\d+$/.test(ticks ?? "") || isProcessAlive(Number(pid), ticks!)) continue;
    const dir = join(workspaceRoot(), name);
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Refuses pin names that could write outside the workspace. */
export function validatePinName(name: string): void {
  if (name === "" || name === "." || name.startsWith("/") || name.split("/").includes("..")) {
    throw new SeamlessError(`Pin ${name}: absolute paths, . and .. are not allowed`);
  }
}

/** Shell-quotes like Python's shlex.quote. */
export function shellQuote(value: string): string {
  if (value !== "" && /^[\w@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A materialized workspace. */
export interface Workspace {
  dir: string;
  /** Environment variables the pins add. */
  env: Record<string, string>;
  /** Large inputs linked into the store: check them after the run ({@link LinkedInputs.verifyUnchanged}), then close. */
  linked: LinkedInputs;
}

async function fetchBuffer(store: BufferStore, checksum: Checksum, pin: string): Promise<Uint8Array> {
  const bytes = await store.get(checksum);
  if (!bytes) throw new NotFoundError(`Cannot materialize pin "${pin}": buffer "${checksum}" not found in ${store.location}`);
  return bytes;
}

/**
 * Places a verified copy of a buffer at `target`: a command that writes to its input
 * (`sort -o f f`, `dd conv=notrunc`) must not be able to change a stored buffer, and file
 * modes do not stop root (issue 17). Copies are cloned copy-on-write where the file system
 * offers it. Large buffers of the local store are linked instead, and checked before and after
 * the run (_linked-inputs.ts). A stored buffer that no longer matches its name is dropped from
 * the store ({@link CorruptBufferError}) and the run stores it again from the user's file.
 */
async function placeBuffer(store: BufferStore, checksum: Checksum, target: string, pin: string, linked: LinkedInputs | null): Promise<void> {
  mkdirSync(dirname(target), { recursive: true });
  rmSync(target, { force: true }); // a metafile may share its name with a pin: the later one wins, as in Python
  const suffix = compressionSuffixOf(target);
  if (suffix) {
    // Buffers are stored decompressed; a pin named *.gz/*.zst gets the compressed form it names,
    // as seamless does when it reads pins from a buffer folder (cli-spec §3.16).
    writeFileSync(target, compress(await fetchBuffer(store, checksum, pin), suffix));
    return;
  }
  if (linked && store.local && linked.tryLink(store.local, checksum, target, pin)) return;
  if (!(await store.getToFile(checksum, target))) {
    throw new NotFoundError(`Cannot materialize pin "${pin}": buffer "${checksum}" not found in ${store.location}`);
  }
}

/**
 * Creates the workspace and materializes every pin of the dict, in sorted name order.
 *
 * @param dict the transformation dict
 * @param store where the pin buffers are
 * @param options `linkBuffers: false` writes every pin as a file (a container sees only the workspace)
 */
export async function materializeWorkspace(dict: TransformationDict, store: BufferStore, options: { linkBuffers?: boolean } = {}): Promise<Workspace> {
  const dir = mkdtempSync(join(workspaceRoot(), `${WORKSPACE_PREFIX}${ownerTag()}-`));
  const linked = new LinkedInputs();
  try {
    return { dir, env: await materializePins(dict, store, dir, options.linkBuffers === false ? null : linked), linked };
  } catch (error) {
    linked.close();
    rmSync(dir, { recursive: true, force: true }); // a refused pin or a missing buffer leaves nothing behind
    throw error;
  }
}

async function materializePins(dict: TransformationDict, store: BufferStore, dir: string, linked: LinkedInputs | null): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  const format = (dict.__format__ ?? {}) as Record<string, { filesystem?: { mode?: string } }>;
  const pins = Object.keys(dict).filter((key) => !key.startsWith("__") && key !== "code").sort();
  for (const pin of pins) {
    const entry = dict[pin] as PlainValue[];
    const [celltype, , checksum] = entry as [string, string | null, string];
    if (pin.startsWith("META__FILE__")) {
      const name = pin.slice("META__FILE__".length);
      validatePinName(name);
      await placeBuffer(store, checksum, join(dir, name), pin, linked);
      continue;
    }
    validatePinName(pin);
    const mode = format[pin]?.filesystem?.mode;
    if (mode === "directory" || (celltype === "mixed" && mode === undefined)) {
      const indexBytes = await fetchBuffer(store, checksum, pin);
      const index = parseIndexText(Buffer.from(indexBytes).toString("utf8"), `pin ${pin}`);
      const target = join(dir, pin.replace(/\.(zst|gz)$/, ""));
      mkdirSync(target, { recursive: true });
      for (const [key, member] of Object.entries(index)) await placeBuffer(store, member, join(target, key), pin, linked);
      if (SHELL_NAME.test(pin)) env[pin] = pin;
    } else if (celltype === "str" || celltype === "int" || celltype === "float" || celltype === "bool" || celltype === "plain") {
      const bytes = await fetchBuffer(store, checksum, pin);
      const parsed = parsePlain(Buffer.from(bytes).toString("utf8").replace(/\n+$/, ""));
      const value = typeof parsed === "string" ? parsed : Buffer.from(bytes).toString("utf8").replace(/\n+$/, "");
      mkdirSync(dirname(join(dir, pin)), { recursive: true });
      writeFileSync(join(dir, pin), value.endsWith("\n") ? value : `${value}\n`);
      const bare = value.replace(/\n$/, "");
      if (!pin.includes(".") && bare.length <= 1000 && SHELL_NAME.test(pin)) env[pin] = bare;
    } else {
      await placeBuffer(store, checksum, join(dir, pin), pin, linked);
      // Python points this variable at the buffer file in the store; ours is the pin's own copy.
      if (SHELL_NAME.test(pin) && store.local && !compressionSuffixOf(pin) && store.local.locate(checksum)?.suffix === null) env[pin] = resolve(dir, pin);
    }
  }
  return env;
}

/** Writes `transform.sh` (cli-spec §3.16): the exports that differ from the environment, then the script. */
export function writeTransformScript(workspace: Workspace, script: string): void {
  const exports = Object.keys(workspace.env)
    .filter((name) => process.env[name] !== workspace.env[name])
    .sort()
    .map((name) => `export ${name}=${shellQuote(workspace.env[name]!)}\n`)
    .join("");
  const path = join(workspace.dir, "transform.sh");
  writeFileSync(path, `#!/bin/bash\n${exports}${script}`);
  chmodSync(path, 0o755);
}
