/**
 * Human-readable clients of a configuration for `seamless config`, without launching anything:
 * a launched server shows the URL of its client JSON when there is one.
 * @module
 */
import type { ClientChoice, SeamlessConfig } from "../config/mod.ts";
import { decodeClientRecord, urlOfClientRecord } from "../wire/launcher.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** One client as shown to the user. */
export interface ClientDescription {
  where: string;
  origin: string;
  /** The URL of a launched server known from its client JSON, or of an extern one. */
  url?: string;
}

function describeOne(choice: ClientChoice, launcherDir: string): ClientDescription {
  switch (choice.kind) {
    case "folder":
      return { where: `folder ${choice.directory}${choice.readonly ? " (read-only)" : ""}`, origin: choice.origin };
    case "sqlite":
      return { where: `embedded ${choice.path}`, origin: choice.origin };
    case "url":
      return { where: `${choice.url}${choice.readonly ? " (read-only)" : ""}`, origin: choice.origin, url: choice.url };
    case "launch": {
      const plan = choice.plan;
      let url: string | undefined;
      try {
        const record = decodeClientRecord(readFileSync(join(launcherDir, "client", `${plan.key}.json`), "utf8"));
        if (record && record.status !== "stale") url = urlOfClientRecord(record);
      } catch {}
      const host = plan.local ? "this machine" : `${plan.sshHostname} over SSH${plan.tunnel ? " (tunnel)" : ""}`;
      return { where: `launched ${plan.key} on ${host}, workdir ${plan.workdir}${url ? `, last seen at ${url}` : ""}`, origin: choice.origin, url };
    }
  }
}

/**
 * Describes every client of the configuration.
 *
 * @returns per service (buffer, database, jobserver) the clients in order
 */
export function describeClients(config: SeamlessConfig): Record<"buffer" | "database" | "jobserver", ClientDescription[]> {
  return {
    buffer: config.clients.buffer.map((c) => describeOne(c, config.launcherDir)),
    database: config.clients.database.map((c) => describeOne(c, config.launcherDir)),
    jobserver: config.clients.jobserver.map((c) => describeOne(c, config.launcherDir)),
  };
}
