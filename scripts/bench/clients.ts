/**
 * The clients' production path (issue 19 §0: clients take an injected transport, and their
 * socket path must stay as fast as it was): sequential `DatabaseClient.getResult` and
 * `HttpBufferStore.has` against one running `seamless database` and `seamless hashserver`.
 * Each measurement is a fresh process that loads the clients of one tree (this one, or
 * `BASE_REF`, default `main`, taken with `git archive`), warms up, then reports its own CPU
 * time per request (user + system: the client's cost, which the load of a shared machine
 * disturbs far less than wall time). Processes of the two trees alternate. In the same
 * process the bare raw-socket request underneath (`httpRequest`, same bytes) is measured too.
 * One process per measurement because two copies of the client in one process did not
 * measure equal even when they were the same code (1.27x and 0.65x apart).
 * Run from the repository root after `npm run build`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BINARY, median, removeDir, report, scratchDir } from "./harness.ts";

const PROCESSES_PER_TREE = Number(process.env.BENCH_PROCESSES ?? 7);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const BASE_REF = process.env.BASE_REF ?? "main";
const HELLO = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const TF = "a1".repeat(32);

interface Measured {
  database: number;
  databaseBare: number;
  hashserver: number;
  hashserverBare: number;
}

/** This process's CPU microseconds per call of `once`, `REQUESTS` calls after as many to warm up. */
async function cpuMicrosPerCall(once: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < REQUESTS; i++) await once();
  const started = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) await once();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / REQUESTS;
}

/** Child mode: measures the clients of the tree at `root` and prints a {@link Measured}. */
async function measure(root: string, databaseUrl: string, hashserverUrl: string): Promise<void> {
  const { DatabaseClient } = await import(join(root, "lib/clients/database.ts"));
  const { HttpBufferStore } = await import(join(root, "lib/buffers/http-store.ts"));
  const { httpRequest, normalizeBaseUrl } = await import(join(root, "lib/wire/http-client.ts"));
  const json = { "content-type": "application/json" };
  const database = new DatabaseClient(databaseUrl);
  const databaseBase = normalizeBaseUrl(databaseUrl);
  const databaseBody = JSON.stringify({ type: "transformation", checksum: TF });
  const store = new HttpBufferStore(hashserverUrl);
  const hashserverBase = normalizeBaseUrl(hashserverUrl);
  const hasBody = JSON.stringify([HELLO]);
  const measured: Measured = {
    database: await cpuMicrosPerCall(() => database.getResult(TF)),
    databaseBare: await cpuMicrosPerCall(() => httpRequest(databaseBase, "/", { method: "GET", body: databaseBody, headers: json, timeoutMs: 10_000 })),
    hashserver: await cpuMicrosPerCall(() => store.has([HELLO])),
    hashserverBare: await cpuMicrosPerCall(() => httpRequest(hashserverBase, "/has", { method: "GET", body: hasBody, headers: json, timeoutMs: 60_000 })),
  };
  console.log(JSON.stringify(measured));
}

async function startServer(args: string[], dir: string): Promise<{ url: string; stop: () => void }> {
  const statusFile = join(dir, `${args[0]}.status.json`);
  writeFileSync(statusFile, "{}");
  const child = Bun.spawn([BINARY, ...args, "--port", "0", "--status-file", statusFile], { cwd: dir, stdout: "ignore", stderr: "ignore" });
  for (let i = 0; i < 800 && child.exitCode === null; i++) {
    const status = JSON.parse(readFileSync(statusFile, "utf8") || "{}");
    if (status.status === "running") return { url: `http://127.0.0.1:${status.port}`, stop: () => child.kill() };
    await Bun.sleep(25);
  }
  child.kill();
  throw new Error(`seamless ${args.join(" ")} did not start`);
}

function runMeasurement(root: string, databaseUrl: string, hashserverUrl: string): Measured {
  const child = Bun.spawnSync([process.execPath, import.meta.path, "--measure", root, databaseUrl, hashserverUrl], { stderr: "pipe" });
  if (child.exitCode !== 0) throw new Error(`measurement of ${root} failed: ${child.stderr.toString().slice(0, 500)}`);
  return JSON.parse(child.stdout.toString());
}

async function main(): Promise<void> {
  const dir = scratchDir("clients");
  const servers: { stop: () => void }[] = [];
  try {
    const ours = resolve(import.meta.dir, "..", "..");
    const base = join(dir, "base");
    mkdirSync(base);
    const archived = Bun.spawnSync(["sh", "-c", `git archive ${BASE_REF} lib | tar -x -C ${base}`], { stderr: "pipe" }).exitCode === 0;
    if (!archived) console.log(`(no ${BASE_REF} to compare with: git archive failed)`);
    const database = await startServer(["database", join(dir, "seamless.db"), "--writable"], dir);
    servers.push(database);
    mkdirSync(join(dir, "buffers"));
    const hashserver = await startServer(["hashserver", join(dir, "buffers"), "--writable"], dir);
    servers.push(hashserver);
    const { DatabaseClient } = await import("../../lib/clients/database.ts");
    const { HttpBufferStore } = await import("../../lib/buffers/http-store.ts");
    await new DatabaseClient(database.url).setResult(TF, "b2".repeat(32));
    await new HttpBufferStore(hashserver.url).put(HELLO, Buffer.from("hello\n"));

    const results: { ours: Measured[]; base: Measured[] } = { ours: [], base: [] };
    for (let i = 0; i < PROCESSES_PER_TREE; i++) {
      const order: ("ours" | "base")[] = i % 2 ? ["base", "ours"] : ["ours", "base"];
      for (const tree of order) {
        if (tree === "base" && !archived) continue;
        results[tree].push(runMeasurement(tree === "ours" ? ours : base, database.url, hashserver.url));
      }
    }
    const of = (tree: "ours" | "base", key: keyof Measured) => median(results[tree].map((m) => m[key]));
    const us = (value: number) => `${value.toFixed(1)} µs`;
    for (const [what, key, bare] of [["DatabaseClient.getResult", "database", "databaseBare"], ["HttpBufferStore.has", "hashserver", "hashserverBare"]] as const) {
      if (archived) {
        const ratio = of("ours", key) / of("base", key);
        report(`${what} vs ${BASE_REF}`, `${us(of("ours", key))} vs ${us(of("base", key))} CPU = ${ratio.toFixed(2)}x`, "not slower (<= 1.05x)", ratio <= 1.05);
      }
      report(`${what} vs bare raw request`, `${us(of("ours", key))} vs ${us(of("ours", bare))} CPU = ${(of("ours", key) / of("ours", bare)).toFixed(2)}x`, "client overhead only", true);
    }
  } finally {
    for (const server of servers) server.stop();
    removeDir(dir);
  }
}

if (process.argv[2] === "--measure") await measure(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
