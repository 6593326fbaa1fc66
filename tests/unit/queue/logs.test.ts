import { afterEach, expect, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../helpers.ts";
import { capLogFile, defaultJobSpec, LocalExecutor, readLogChunk, Scheduler, SqliteJobStore, trimLogFile, type JobSpec } from "../../../lib/queue/mod.ts";
import { createQueueHandler } from "../../../lib/servers/queue.ts";
import { makeServiceRequest, withErrorHandling } from "../../../lib/servers/http.ts";
import type { DecodedJobRequest } from "../../../lib/wire/queue.ts";
import { SILENT_LOG } from "../../../lib/log.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MARKER = /\n\[seamless queue: +(\d+) bytes of log omitted\]\n/;
const MARKERS = new RegExp(MARKER.source, "g");

/** Numbered lines, so that any slice of the output says where it came from. */
function output(lines: number): Buffer {
  let text = "";
  for (let i = 0; i < lines; i++) text += `line ${String(i).padStart(6, "0")}\n`;
  return Buffer.from(text);
}

function logFile(): string {
  const dir = tempDir("seamless-logs-");
  cleanups.push(() => dir[Symbol.dispose]());
  return join(dir.path, "1.log");
}

test("trimLogFile keeps a growing log within its cap; offsets count the job's bytes and survive trims", () => {
  const path = logFile();
  const cap = 1000;
  const content = output(2000); // 24,000 bytes
  writeFileSync(path, "");
  const reads: { offset: number; data: string; next: number }[] = [];
  let readerOffset = 0;
  for (let written = 0; written < content.length; ) {
    const chunk = content.subarray(written, written + 700);
    appendFileSync(path, chunk);
    written += chunk.length;
    trimLogFile(path, cap);
    // The slack of a running log is half the cap, plus one marker line.
    expect(statSync(path).size).toBeLessThanOrEqual(cap + cap / 2 + 700 + 60);
    // A follower reading 300 bytes at a time: always its own bytes, or a marker then the kept tail.
    const { data, nextOffset } = readLogChunk(path, readerOffset, 300, cap);
    reads.push({ offset: readerOffset, data: Buffer.from(data).toString(), next: nextOffset });
    readerOffset = nextOffset;
  }
  for (;;) {
    const { data, nextOffset } = readLogChunk(path, readerOffset, 300, cap);
    if (data.byteLength === 0) break;
    reads.push({ offset: readerOffset, data: Buffer.from(data).toString(), next: nextOffset });
    readerOffset = nextOffset;
  }
  expect(readerOffset).toBe(content.length);
  let markers = 0;
  for (const { offset, data, next } of reads) {
    const marker = MARKER.exec(data);
    if (!marker) {
      expect(data).toBe(content.subarray(offset, next).toString());
      continue;
    }
    markers++;
    const before = data.slice(0, marker.index);
    const after = data.slice(marker.index + marker[0].length);
    expect(before).toBe(content.subarray(offset, offset + before.length).toString());
    expect(Number(marker[1])).toBe(next - after.length - offset - before.length);
    expect(after).toBe(content.subarray(next - after.length, next).toString());
  }
  expect(markers).toBeGreaterThan(0);
  expect(reads.map((read) => read.data).join("").startsWith(content.subarray(0, 500).toString())).toBe(true);
  expect(reads.at(-1)!.data.endsWith("line 001999\n")).toBe(true);

  // Once the job ended: exactly head, marker, tail; a reader from 0 gets all three.
  expect(capLogFile(path, cap)).toBe(true);
  const kept = readFileSync(path, "utf8");
  const marker = MARKER.exec(kept)!;
  expect(kept.slice(0, marker.index)).toBe(content.subarray(0, 500).toString());
  expect(kept.slice(marker.index + marker[0].length)).toBe(content.subarray(content.length - 500).toString());
  expect(Number(marker[1])).toBe(content.length - 1000);
  const whole = readLogChunk(path, 0, 1 << 20, cap);
  expect(Buffer.from(whole.data).toString()).toBe(kept);
  expect(whole.nextOffset).toBe(content.length);
  // From an offset in the dropped part: a marker for the bytes this reader missed, then the tail.
  const middle = readLogChunk(path, 5000, 1 << 20, cap);
  expect(Buffer.from(middle.data).toString()).toMatch(new RegExp(`^\\n\\[seamless queue: +${content.length - 500 - 5000} bytes of log omitted\\]\\n`));
  // From an offset in the tail: exactly the job's bytes from there.
  const inTail = readLogChunk(path, content.length - 100, 1 << 20, cap);
  expect(Buffer.from(inTail.data).toString()).toBe(content.subarray(content.length - 100).toString());
  // A log under its cap is left alone and read as it is.
  const small = logFile();
  writeFileSync(small, "hello\n");
  expect(trimLogFile(small, cap)).toBe(false);
  expect(capLogFile(small, cap)).toBe(false);
  expect(Buffer.from(readLogChunk(small, 2, 100, cap).data).toString()).toBe("llo\n");
});

test("A running job writing far more than the cap keeps its log bounded; followers get the head and the newest tail", async () => {
  const dir = tempDir("seamless-logs-");
  const cap = 64 * 1024;
  const store = SqliteJobStore.open({ path: ":memory:" });
  const scheduler = await Scheduler.start({ store, executor: new LocalExecutor({ graceMs: 100 }), logDir: join(dir.path, "logs"), defaultParallel: 2, logCapBytes: cap });
  cleanups.push(() => dir[Symbol.dispose]());
  cleanups.push(async () => (await scheduler.stop(), store.close()));
  const prepareJob = async (request: DecodedJobRequest): Promise<JobSpec> => ({ ...defaultJobSpec(request.command), ...request, workdir: dir.path, plain: true });
  const handler = withErrorHandling(createQueueHandler({
    scheduler, prepareJob, token: null, onStop: () => {}, followIntervalMs: 20,
    status: () => ({ pid: process.pid, version: "test", mode: scheduler.mode, counts: scheduler.countByState(), groups: scheduler.groups(), database: ":memory:" }),
  }), SILENT_LOG);
  const get = (path: string) => {
    const [pathname, query] = path.split("?");
    return handler({ ...makeServiceRequest("GET", pathname!), query: query ?? "" });
  };

  const bytes = 20_000_000;
  const command = `printf 'HEAD-START\\n'; head -c ${bytes} /dev/zero | tr '\\0' x; printf '\\nTAIL-END\\n'; `
    + `while [ ! -e release ]; do sleep 0.02; done; printf 'FINAL\\n'`;
  const [job] = scheduler.submit([{ ...defaultJobSpec(command), plain: true, workdir: dir.path }]);
  const log = scheduler.filesOf(job!).log;
  // A follower from the start, reading while the job writes and the log is trimmed.
  while (scheduler.getJob(job!.id).state !== "running") await Bun.sleep(10);
  const followed = await get(`/jobs/${job!.id}/logs?follow=1&from=0`);
  const chunks: Buffer[] = [];
  const following = (async () => {
    for await (const chunk of (followed.body as { stream: AsyncIterable<Uint8Array> }).stream) chunks.push(Buffer.from(chunk));
  })();

  // The job has written everything and waits: its log must come down to head + marker + tail.
  const deadline = Date.now() + 60_000;
  let size = Infinity;
  while (Date.now() < deadline) {
    size = existsSync(log) ? statSync(log).size : Infinity;
    const text = existsSync(log) ? readFileSync(log, "latin1") : "";
    if (size <= cap + cap / 2 + 100 && text.endsWith("TAIL-END\n")) break;
    await Bun.sleep(20);
  }
  expect(scheduler.getJob(job!.id).state).toBe("running");
  expect(size).toBeLessThanOrEqual(cap + cap / 2 + 100);
  const running = readFileSync(log, "latin1");
  expect(running.startsWith("HEAD-START\nxxxx")).toBe(true);
  expect(running.endsWith("xxxx\nTAIL-END\n")).toBe(true);
  expect(Number(MARKER.exec(running)![1])).toBeGreaterThan(bytes - 2 * cap);
  const now = await get(`/jobs/${job!.id}/logs`);
  const nowText = Buffer.from(now.body as Uint8Array).toString("latin1");
  expect(nowText.startsWith("HEAD-START\n")).toBe(true);
  expect(nowText.endsWith("\nTAIL-END\n")).toBe(true);
  expect(Number(now.headers!["x-next-offset"])).toBeLessThanOrEqual(bytes + "HEAD-START\n\nTAIL-END\n".length);

  writeFileSync(join(dir.path, "release"), "");
  const done = await scheduler.waitFor(job!.id);
  expect(done.state).toBe("succeeded");
  await following;
  const seen = Buffer.concat(chunks).toString("latin1");
  expect(seen.startsWith("HEAD-START\nxxxx")).toBe(true);
  expect(seen.endsWith("xxxx\nTAIL-END\nFINAL\n")).toBe(true);
  // Whatever the follower missed is announced by markers, and nothing else gets in between.
  expect(seen.replace(MARKERS, "")).toMatch(/^HEAD-START\nx+\nTAIL-END\nFINAL\n$/);
  const kept = readFileSync(log, "latin1");
  expect(kept.length).toBeLessThanOrEqual(cap + 100);
  expect(kept.endsWith("xxxx\nTAIL-END\nFINAL\n")).toBe(true);
}, 120_000);
