/**
 * A real OpenSSH server on loopback for the SSH launching tests: throwaway host and user keys
 * in a temp directory, `sshd -D -f <config> -p <free port>`, and an ssh_config naming it
 * "testhost" (passed to seamless as SEAMLESS_SSH_CONFIG).
 */
import { existsSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const SSHD = "/usr/sbin/sshd";

/** Why SSH tests cannot run here, or null. */
export function sshUnavailableReason(): string | null {
  if (!existsSync(SSHD)) return `${SSHD} is missing (Debian openssh-server; .ci/run installs it)`;
  if (!Bun.which("ssh") || !Bun.which("ssh-keygen")) return "ssh or ssh-keygen is missing (Debian openssh-client)";
  return null;
}

export interface TestSshd {
  port: number;
  /** ssh_config with Host testhost (the user's key) and Host wrongkey (a key sshd refuses). */
  sshConfig: string;
  /** The environment sshd gives sessions: REMOTE_HTTP_LAUNCHER_DIR points here. */
  remoteLauncherDir: string;
  stop(): void;
}

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

async function keygen(path: string): Promise<void> {
  const child = Bun.spawn(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], { stdout: "ignore", stderr: "pipe" });
  if ((await child.exited) !== 0) throw new Error(`ssh-keygen failed: ${await new Response(child.stderr).text()}`);
}

/** Starts sshd in `dir` and waits until it accepts connections. */
export async function startSshd(dir: string): Promise<TestSshd> {
  mkdirSync(dir, { recursive: true });
  await keygen(join(dir, "host_key"));
  await keygen(join(dir, "user_key"));
  await keygen(join(dir, "wrong_key"));
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "user_key.pub")));
  const remoteLauncherDir = join(dir, "remote-rhl");
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(config, [
    `ListenAddress 127.0.0.1`,
    `HostKey ${join(dir, "host_key")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `StrictModes no`,
    `PasswordAuthentication no`,
    `KbdInteractiveAuthentication no`,
    `PubkeyAuthentication yes`,
    `PermitRootLogin prohibit-password`,
    `UsePAM no`,
    `AllowTcpForwarding yes`,
    `SetEnv REMOTE_HTTP_LAUNCHER_DIR=${remoteLauncherDir}`,
    "",
  ].join("\n"));
  // sshd insists on its privilege separation directory.
  if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const child = Bun.spawn([SSHD, "-D", "-e", "-f", config, "-p", String(port)], { stdout: "ignore", stderr: "pipe" });
  const user = new TextDecoder().decode(Bun.spawnSync(["id", "-un"]).stdout).trim();
  const sshConfig = join(dir, "ssh_config");
  const host = (name: string, key: string) => [
    `Host ${name}`, `  HostName 127.0.0.1`, `  Port ${port}`, `  User ${user}`, `  IdentityFile ${join(dir, key)}`, `  IdentitiesOnly yes`,
    `  UserKnownHostsFile ${join(dir, "known_hosts")}`, `  StrictHostKeyChecking no`, `  LogLevel ERROR`,
  ].join("\n");
  writeFileSync(sshConfig, `${host("testhost", "user_key")}\n${host("wrongkey", "wrong_key")}\n`);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((s) => (s.end(), true), () => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`sshd did not start: ${await new Response(child.stderr).text()}`);
    }
    await Bun.sleep(50);
  }
  return { port, sshConfig, remoteLauncherDir, stop: () => child.kill() };
}
