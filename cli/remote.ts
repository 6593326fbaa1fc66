/** Level 3 for `seamless run` and `seamless run-transformation`: the configured jobserver, if any. */
import { resolveConfig } from "../lib/config/mod.ts";
import { configuredJobserver } from "../lib/clients/jobserver.ts";

/**
 * Delegation level 3 when the configuration names a jobserver (issue 22 §3): its client, the
 * buffer server it shares, and Ctrl-C turned into a cancel of the job.
 */
export async function remoteExecutionOf(hashserverFlag: string | undefined, warn: (text: string) => void) {
  const config = resolveConfig(process.env, process.cwd(), { hashserver: hashserverFlag });
  const { client, note } = configuredJobserver(config);
  if (note) warn(note);
  if (!client) return { hashserverUrl: hashserverFlag };
  const buffer = config.clients.buffer[0];
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => controller.abort());
  return { hashserverUrl: hashserverFlag ?? (buffer?.kind === "url" ? buffer.url : undefined), jobserver: client, record: config.record, signal: controller.signal };
}
