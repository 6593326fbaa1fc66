/** From a client choice to a URL, launching when the configuration says so. */
import type { ClientChoice, SeamlessConfig } from "../config/mod.ts";
import type { LaunchContext } from "../launcher/mod.ts";
import { selfCommand } from "../launcher/self-command.ts";
import type { Log } from "../log.ts";

/** The launcher context of a configuration. */
export function launchContextOf(config: SeamlessConfig, log?: Log): LaunchContext {
  return { launcherDir: config.launcherDir, home: config.home, executable: selfCommand(), sshConfigFile: config.sshConfigFile, log };
}

/** The URL of a `url` or `launch` client; a launched server is kept alive while we live. */
export async function urlOfClient(choice: Extract<ClientChoice, { kind: "url" | "launch" }>, context: LaunchContext): Promise<string> {
  if (choice.kind === "url") return choice.url;
  // Loaded only to launch: the launcher (child_process, SSH, handshakes) is ~1 ms of module
  // loading that a plain local `seamless run` would otherwise pay on every cache hit.
  const { ensureService, keepAlive } = await import("../launcher/mod.ts");
  const url = await ensureService(choice.plan, context);
  keepAlive(url);
  return url;
}
