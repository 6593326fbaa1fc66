/**
 * `seamless database` throughput: 8 keep-alive connections sending transformation GETs and
 * PUTs, against a bare `Bun.serve` answering a constant (same client, same run). The
 * `seamless run` cache hit through a running database + hashserver is in `run.ts`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, removeDir, report, scratchDir, startWithStatusFile } from "./harness.ts";

const CONNECTIONS = 8;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

/** A bare Bun.serve in its own process, answering every request with a constant. */
async function startBareServer(dir: string): Promise<{ port: number; stop: () => void }> {
  const script = join(dir, "bare.ts");
  writeFileSync(script, `const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => { await req.arrayBuffer(); return new Response("${"2".repeat(64)}"); } });\nconsole.log(server.port);\n`);
  const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return { port: Number(new TextDecoder().decode(value).trim()), stop: () => child.kill() };
}

/** One keep-alive connection that sends requests one after another and reads each answer. */
function openConnection(port: number): Promise<{ send: (request: Uint8Array) => Promise<number>; close: () => void }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let waiting: ((status: number) => void) | null = null;
    const tryComplete = () => {
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0 || !waiting) return;
      const head = buffered.subarray(0, end).toString("latin1");
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      const status = Number(head.slice(9, 12));
      buffered = buffered.subarray(end + 4 + length);
      const done = waiting;
      waiting = null;
      done(status);
    };
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(socket) {
          resolve({
            send: (request) => new Promise((done) => {
              waiting = done;
              socket.write(request);
            }),
            close: () => socket.end(),
          });
        },
        data(_socket, chunk) {
          buffered = buffered.length ? Buffer.concat([buffered, chunk]) : Buffer.from(chunk);
          tryComplete();
        },
        error(_socket, error) {
          reject(error);
        },
      },
    }).catch(reject);
  });
}

function httpRequestBytes(method: string, port: number, body: string): Uint8Array {
  return Buffer.from(`${method} / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * Requests per second over `SECONDS` (or until `limit` requests), 8 connections; `makeBody(i)`
 * gives the i-th body.
 */
async function measure(port: number, method: string, makeBody: (i: number) => string, expectStatus: number, limit = Number.POSITIVE_INFINITY): Promise<number> {
  const connections = await Promise.all(Array.from({ length: CONNECTIONS }, () => openConnection(port)));
  let counter = 0;
  let bad = 0;
  const deadline = limit === Number.POSITIVE_INFINITY ? performance.now() + SECONDS * 1000 : Number.POSITIVE_INFINITY;
  const started = performance.now();
  await Promise.all(connections.map(async (connection) => {
    while (performance.now() < deadline && counter < limit) {
      const status = await connection.send(httpRequestBytes(method, port, makeBody(counter++)));
      if (status !== expectStatus) bad++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  for (const connection of connections) connection.close();
  if (bad) throw new Error(`${bad} answers were not ${expectStatus}`);
  return counter / elapsed;
}

function checksumOf(i: number): string {
  return new Bun.CryptoHasher("sha256").update(String(i)).digest("hex");
}

const dir = scratchDir("database");
const stops: (() => void)[] = [];
try {
  const env: Record<string, string | undefined> = { ...process.env, SEAMLESS_CACHE: join(dir, "cache") };
  for (const key of Object.keys(env)) if (key.startsWith("SEAMLESS_") && key !== "SEAMLESS_CACHE") delete env[key];
  const database = await startWithStatusFile([BINARY, "database", join(dir, "bench.db"), "--writable"], dir, env);
  stops.push(database.stop);
  const bare = await startBareServer(dir);
  stops.push(bare.stop);
  const result = "2".repeat(64);
  const KEYS = 2000;
  await measure(database.port, "PUT", (i) => JSON.stringify({ type: "transformation", checksum: checksumOf(i), value: result }), 200, KEYS);

  const getBody = (i: number) => JSON.stringify({ type: "transformation", checksum: checksumOf(i % KEYS) });
  // Warm-up, unmeasured: a fresh server runs its JavaScript unoptimized for the first seconds.
  await measure(database.port, "GET", getBody, 200, 20_000);
  await measure(bare.port, "GET", getBody, 200, 20_000);
  const bareGet = await measure(bare.port, "GET", getBody, 200);
  const dbGet = await measure(database.port, "GET", getBody, 200);
  report("database GET transformation, 8 connections", `${dbGet.toFixed(0)}/s = ${(dbGet / bareGet).toFixed(2)}x bare Bun.serve (${bareGet.toFixed(0)}/s)`, ">= 10,000/s", dbGet >= 10_000);
  let fresh = 1_000_000;
  const putBody = () => JSON.stringify({ type: "transformation", checksum: checksumOf(fresh++), value: result });
  await measure(database.port, "PUT", putBody, 200, 10_000);
  const barePut = await measure(bare.port, "PUT", putBody, 200);
  const dbPut = await measure(database.port, "PUT", putBody, 200);
  report("database PUT transformation (new keys), 8 connections", `${dbPut.toFixed(0)}/s = ${(dbPut / barePut).toFixed(2)}x bare Bun.serve (${barePut.toFixed(0)}/s)`, ">= 5,000/s", dbPut >= 5_000);

} finally {
  for (const stop of stops) stop();
  removeDir(dir);
}
