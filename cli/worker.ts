import { BufferDir } from "../lib/buffers/bufferdir.ts";
import { openBufferStoreFor } from "../lib/delegation/mod.ts";
import { configFromFlags } from "./configure.ts";
import { runWorkerProcess, type ToWorker } from "../lib/queue/worker-process.ts";
import { SeamlessError } from "../lib/errors.ts";
import { type CommandSpec, HASHSERVER_OPTION, parseOrHelp } from "./args.ts";

export const spec: CommandSpec = {
  name: "worker",
  usage: "seamless worker [--hashserver URL | --buffer-dir DIR] [--python-runner PATH]",
  summary: "Internal: one worker process of 'seamless jobserver', started by it and driven over its IPC channel.",
  positionals: "none",
  options: [
    HASHSERVER_OPTION,
    { key: "bufferDir", names: ["--buffer-dir"], kind: "value", metavar: "DIR", help: "buffer directory to read inputs from and store results in" },
    { key: "pythonRunner", names: ["--python-runner"], kind: "value", metavar: "PATH", help: "seamless-run-transformation for Python transformations (env SEAMLESS_PYTHON_RUNNER)" },
  ],
};

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  if (!process.send) throw new SeamlessError("seamless worker is started by 'seamless jobserver', not by hand");
  const store = values.bufferDir ? new BufferDir(values.bufferDir as string) : await openBufferStoreFor(configFromFlags(values));
  await runWorkerProcess({
    store,
    channel: {
      send: (message) => {
        try {
          process.send!(message);
        } catch {} // the pool has gone; the disconnect ends the worker
      },
      onMessage: (listener) => process.on("message", (message) => listener(message as ToWorker)),
      onDisconnect: (listener) => process.on("disconnect", listener),
    },
    environment: {
      pythonRunner: (values.pythonRunner as string | undefined) ?? (process.env.SEAMLESS_PYTHON_RUNNER || null),
      remoteClients: process.env.SEAMLESS_REMOTE_CLIENTS ?? null,
    },
  });
  store.close();
  return 0;
}
