/**
 * The clients' production path (issue 19 §0: clients take an injected transport, and their
 * socket path must stay as fast as it was): sequential `DatabaseClient.getResult` and
 * `HttpBufferStore.has` against one running `seamless database` and `seamless hashserver`,
 * in alternating rounds (client CPU time per request), against (a) the same clients of `BASE_REF` (default `main`, taken
 * with `git archive` and imported side by side) and (b) the bare raw-socket request underneath
 * (`httpRequest`, same bytes). Run from the repository root after `npm run build`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HttpBufferStore } from "../../lib/buffers/http-store.ts";
import { DatabaseClient } from "../../lib/clients/database.ts";
import { DatabaseRequests, encodeDatabaseRequest } from "../../lib/wire/database.ts";
import { HashserverPath, encodeChecksumList } from "../../lib/wire/hashserver.ts";
import { httpRequest, normalizeBaseUrl } from "../../lib/wire/http-client.ts";
import { BINARY, median, removeDir, report, scratchDir } from "./harness.ts";

const ROUNDS = 5;
const REQUESTS_PER_ROUND = Number(process.env.BENCH_REQUESTS ?? 300);
const BASE_REF = process.env.BASE_REF ?? "main";
const HELLO = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

async function startServer(args: string[], dir: string): Promise<{ url: string; stop: () => void }> {
  const statusFile = join(dir, `${args[0]}.status.json`);
  writeFileSync(statusFile, "{}");
  const child = Bun.spawn([BINARY, ...args, "--port", "0", "--status-file", statusFile], { cwd: dir, stdout: "ignore", stderr: "inherit" });
  for (let i = 0; i < 800 && child.exitCode === null; i++) {
    const status = JSON.parse(readFileSync(statusFile, "utf8") || "{}");
    if (status.status === "running") return { url: `http://127.0.0.1:${status.port}`, stop: () => child.kill() };
    await Bun.sleep(25);
  }
  child.kill();
  throw new Error(`seamless ${args.join(" ")} did not start`);
}

/** The clients of `ref`, imported from a `git archive` of its lib/ (null when git cannot give it). */
async function baseClients(ref: string, dir: string): Promise<{ DatabaseClient: typeof DatabaseClient; HttpBufferStore: typeof HttpBufferStore } | null> {
  const target = join(dir, "base");
  mkdirSync(target);
  const archive = Bun.spawnSync(["sh", "-c", `git archive ${ref} lib | tar -x -C ${target}`], { stderr: "pipe" });
  if (archive.exitCode !== 0) return null;
  const database = await import(join(target, "lib/clients/database.ts"));
  const buffers = await import(join(target, "lib/buffers/http-store.ts"));
  return { DatabaseClient: database.DatabaseClient, HttpBufferStore: buffers.HttpBufferStore };
}

/**
 * This process's CPU microseconds (user + system) per request of `once`, run
 * `REQUESTS_PER_ROUND` times in a row: the client's own cost, which the load of a shared
 * machine disturbs far less than wall time (the server runs in another process).
 */
async function perRequestMicros(once: () => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  for (let i = 0; i < REQUESTS_PER_ROUND; i++) await once();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / REQUESTS_PER_ROUND;
}

/**
 * Alternating rounds of each variant after one warm-up round each; the median per variant.
 * The order rotates each round: whichever variant goes first in a round measured ~25% slower.
 */
async function compare(variants: Record<string, () => Promise<unknown>>): Promise<Record<string, number>> {
  const entries = Object.entries(variants);
  const times: Record<string, number[]> = {};
  for (const [name, once] of entries) {
    await perRequestMicros(once);
    times[name] = [];
  }
  for (let round = 0; round < ROUNDS * entries.length; round++) {
    for (let k = 0; k < entries.length; k++) {
      const [name, once] = entries[(round + k) % entries.length]!;
      times[name]!.push(await perRequestMicros(once));
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, values]) => [name, median(values)]));
}

function verdicts(what: string, times: Record<string, number>): void {
  const us = (name: string) => `${times[name]!.toFixed(0)} µs CPU`;
  if (times.base !== undefined) {
    report(`${what} vs ${BASE_REF}`, `${us("ours")} vs ${us("base")} = ${(times.ours! / times.base).toFixed(2)}x`, "not slower (<= 1.05x)", times.ours! <= times.base * 1.05);
  }
  report(`${what} vs bare raw request`, `${us("ours")} vs ${us("bare")} = ${(times.ours! / times.bare!).toFixed(2)}x`, "client overhead only", true);
}

const dir = scratchDir("clients");
const servers: { stop: () => void }[] = [];
try {
  const base = await baseClients(BASE_REF, dir);
  if (!base) console.log(`(no ${BASE_REF} to compare with: git archive failed)`);
  const database = await startServer(["database", join(dir, "seamless.db"), "--writable"], dir);
  servers.push(database);
  mkdirSync(join(dir, "buffers"));
  const hashserver = await startServer(["hashserver", join(dir, "buffers"), "--writable"], dir);
  servers.push(hashserver);

  const tf = "a1".repeat(32);
  const ours = new DatabaseClient(database.url);
  await ours.setResult(tf, "b2".repeat(32));
  const theirs = base ? new base.DatabaseClient(database.url) : null;
  const dbBase = normalizeBaseUrl(database.url);
  const dbBody = encodeDatabaseRequest(DatabaseRequests.getTransformation(tf));
  verdicts("DatabaseClient.getResult", await compare({
    ours: () => ours.getResult(tf),
    ...(theirs ? { base: () => theirs.getResult(tf) } : {}),
    bare: () => httpRequest(dbBase, "/", { method: "GET", body: dbBody, headers: { "content-type": "application/json" }, timeoutMs: 10_000 }),
  }));

  const store = new HttpBufferStore(hashserver.url);
  await store.put(HELLO, Buffer.from("hello\n"));
  const theirStore = base ? new base.HttpBufferStore(hashserver.url) : null;
  const hsBase = normalizeBaseUrl(hashserver.url);
  const hsBody = encodeChecksumList([HELLO]);
  verdicts("HttpBufferStore.has", await compare({
    ours: () => store.has([HELLO]),
    ...(theirStore ? { base: () => theirStore.has([HELLO]) } : {}),
    bare: () => httpRequest(hsBase, HashserverPath.has, { method: "GET", body: hsBody, headers: { "content-type": "application/json" }, timeoutMs: 60_000 }),
  }));
} finally {
  for (const server of servers) server.stop();
  removeDir(dir);
}
