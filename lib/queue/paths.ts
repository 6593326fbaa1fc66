/**
 * The layout of a queue directory (`<cache dir>/queue/`): database, execution files, the
 * daemon's published address, its token and its log. Kept free of heavy imports: every CLI
 * verb reads it at start-up.
 * @module
 */
import { join } from "node:path";

/** Paths inside the queue directory. */
export interface QueuePaths {
  database: string;
  logs: string;
  address: string;
  token: string;
  daemonLog: string;
}

/** The paths of a queue directory. */
export function queuePathsOf(queueDir: string): QueuePaths {
  return {
    database: join(queueDir, "queue.db"), logs: join(queueDir, "logs"), address: join(queueDir, "daemon.json"),
    token: join(queueDir, "token"), daemonLog: join(queueDir, "daemon.log"),
  };
}
