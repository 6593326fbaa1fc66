/**
 * The system OpenSSH client, in batch mode (no password prompts) with bounded timeouts, for
 * launching on a cluster frontend and for tunnels (services-spec §5.2).
 */
import { spawn } from "node:child_process";
import { net } from "../disk/lazy-node.ts";
import { LaunchError } from "./launch-error.ts";

/** How to reach a host. */
export interface SshTarget {
  destination: string;
  /** An ssh_config file (`SEAMLESS_SSH_CONFIG`), passed with -F. */
  configFile: string | null;
}

/** Options every ssh call gets: no prompts, bounded connect and dead-peer detection. */
function baseOptions(target: SshTarget): string[] {
  return [
    ...(target.configFile ? ["-F", target.configFile] : []),
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=3",
    // Host keys are checked as the user's ssh configuration says: an unknown host fails in
    // batch mode ("Host key verification failed") rather than being trusted silently.
  ];
}

/** Quotes one word for the remote shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs a command on the host and returns its stdout.
 *
 * @throws {LaunchError} when ssh fails (the last stderr line says why) or runs longer than `timeoutMs`
 */
export async function runOverSsh(target: SshTarget, argv: string[], timeoutMs: number): Promise<string> {
  const child = spawn("ssh", [...baseOptions(target), target.destination, "--", argv.map(shellQuote).join(" ")], { stdio: ["ignore", "pipe", "pipe"] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.on("error", () => resolve(-1));
    child.on("close", (exitCode) => resolve(exitCode));
  });
  clearTimeout(timer);
  const errorText = Buffer.concat(stderr).toString("utf8").trim();
  if (timedOut) throw new LaunchError(`SSH to "${target.destination}" did not finish within ${Math.round(timeoutMs / 1000)} s`);
  if (code === -1) throw new LaunchError(`Cannot run ssh: is OpenSSH installed?`);
  if (code !== 0) {
    const lines = errorText.split("\n").filter(Boolean);
    // Our own remote command reports "seamless launch-service: …"; ssh reports connection errors.
    const detail = lines.findLast((line) => line.includes("seamless")) ?? lines.at(-1) ?? `exit code ${code}`;
    throw new LaunchError(`SSH to "${target.destination}" failed: ${detail}`);
  }
  return Buffer.concat(stdout).toString("utf8");
}

/** A free port on 127.0.0.1 for a tunnel's local end. */
async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net().createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as import("node:net").AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts a background SSH tunnel from a free local port to `remoteHost:remotePort` as seen
 * from the frontend. It outlives this process, like the launcher's tunnels; a dead tunnel is
 * noticed by the next handshake and replaced.
 *
 * @returns the local port and the tunnel's pid
 */
export async function openTunnel(target: SshTarget, remoteHost: string, remotePort: number): Promise<{ localPort: number; pid: number }> {
  const localPort = await freeLocalPort();
  const child = spawn("ssh", [...baseOptions(target), "-N", "-o", "ExitOnForwardFailure=yes", "-L", `127.0.0.1:${localPort}:${remoteHost}:${remotePort}`, target.destination], {
    stdio: "ignore",
    detached: true,
  });
  child.on("error", () => {});
  child.unref();
  if (!child.pid) throw new LaunchError(`Cannot run ssh for a tunnel to "${target.destination}"`);
  return { localPort, pid: child.pid };
}
