/** From a client choice to a URL, launching when the configuration says so. */
import type { ClientChoice, SeamlessConfig } from "../config/mod.ts";
import { ensureService, keepAlive, selfCommand, type LaunchContext } from "../launcher/mod.ts";

/** The launcher context of a configuration. */
export function launchContextOf(config: SeamlessConfig, say?: (text: string) => void): LaunchContext {
  return { launcherDir: config.launcherDir, home: config.home, executable: selfCommand(), sshConfigFile: config.sshConfigFile, say };
}

/** The URL of a `url` or `launch` client; a launched server is kept alive while we live. */
export async function urlOfClient(choice: Extract<ClientChoice, { kind: "url" | "launch" }>, context: LaunchContext): Promise<string> {
  if (choice.kind === "url") return choice.url;
  const url = await ensureService(choice.plan, context);
  keepAlive(url);
  return url;
}
