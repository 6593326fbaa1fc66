/** Level 3 for `seamless run` and `seamless run-transformation`: the configured jobserver, if any. */
import type { SeamlessConfig } from "../lib/config/mod.ts";
import { openJobserverFor } from "../lib/delegation/open-jobserver.ts";
import type { Log } from "../lib/log.ts";

/**
 * Delegation level 3 when the configuration names a jobserver (issue 22 §3): its client
 * (launched if the configuration says so) and the record mode. Ctrl-C reaches it as the
 * command's AbortSignal (cli/interrupt.ts), which soft-cancels the job.
 */
export async function remoteExecutionOf(config: SeamlessConfig, log: Log) {
  const jobserver = await openJobserverFor(config, log);
  if (!jobserver) return {};
  return { jobserver, record: config.record };
}
