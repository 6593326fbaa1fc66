/**
 * The jobserver a configuration selects (delegation level 3, services-spec §5.1, §7.1): an
 * extern URL (`SEAMLESS_JOBSERVER`), or a launched jobserver whose status-file `parameters`
 * name the buffer server and database this client uses, launched first. A launched jobserver's
 * client can relaunch it.
 * @module
 */
import type { ClientChoice, SeamlessConfig } from "../config/mod.ts";
import type { JobserverClient } from "../clients/jobserver.ts";
import { launchContextOf, urlOfClient } from "./_launch.ts";
import type { Log } from "../log.ts";

/** The remote-client entry of a buffer or database client (services-spec §6.5), launching it if needed. */
async function parameterEntryOf(choice: ClientChoice | undefined, config: SeamlessConfig, log?: Log): Promise<Record<string, unknown>[]> {
  if (!choice) return [];
  if (choice.kind === "folder") return [{ readonly: choice.readonly, directory: choice.directory }];
  if (choice.kind === "sqlite") return [];
  const url = await urlOfClient(choice, launchContextOf(config, log));
  return [{ readonly: choice.readonly, url }];
}

/**
 * Opens the configured jobserver.
 *
 * @param config the resolved configuration
 * @param log says what is launched (level 1)
 * @returns the client, or null below level 3
 * @throws {LaunchError} when a launched jobserver (or the servers it needs) cannot be started
 */
export async function openJobserverFor(config: SeamlessConfig, log?: Log): Promise<JobserverClient | null> {
  if (config.level !== 3) return null;
  const choice = config.clients.jobserver[0];
  if (!choice || (choice.kind !== "url" && choice.kind !== "launch")) return null;
  // Loaded only at level 3: below it (every local run) the HTTP client stack is not needed.
  const { JobserverClient } = await import("../clients/jobserver.ts");
  if (choice.kind === "url") return new JobserverClient(choice.url);
  const writable = (list: ClientChoice[]) => list.find((c) => !("readonly" in c) || !c.readonly) ?? list[0];
  const parameters = {
    buffer: await parameterEntryOf(writable(config.clients.buffer), config, log),
    database: await parameterEntryOf(writable(config.clients.database), config, log),
    ...(config.record ? { record: true } : {}),
  };
  const launched = { ...choice, plan: { ...choice.plan, parameters } };
  const context = launchContextOf(config, log);
  // The launcher finds the dead server's record stale and starts a new one (services-spec §5.2).
  const open = async (): Promise<JobserverClient> => new JobserverClient(await urlOfClient(launched, context), { relaunch: open });
  return open();
}
