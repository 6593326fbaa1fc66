/** Level 3 for `seamless run` and `seamless run-transformation`: the configured jobserver, if any. */
import type { SeamlessConfig } from "../lib/config/mod.ts";
import { openJobserverFor } from "../lib/delegation/open-jobserver.ts";

/**
 * Delegation level 3 when the configuration names a jobserver (issue 22 §3): its client
 * (launched if the configuration says so), the record mode, and Ctrl-C turned into a cancel
 * of the job.
 */
export async function remoteExecutionOf(config: SeamlessConfig, say: (text: string) => void) {
  const jobserver = await openJobserverFor(config, say);
  if (!jobserver) return {};
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => controller.abort());
  return { jobserver, record: config.record, signal: controller.signal };
}
