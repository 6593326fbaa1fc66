import { describe, expect, test } from "bun:test";
import { Semaphore } from "../../../lib/concurrency/semaphore.ts";
import { forEachAdaptive, mapConcurrent } from "../../../lib/concurrency/map-concurrent.ts";

describe("Semaphore", () => {
  test("never lets more than its permits run at once, and runs everything", async () => {
    const semaphore = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await Promise.all([1, 2, 3, 4, 5].map((n) => semaphore.run(async () => {
      running++;
      peak = Math.max(peak, running);
      await Bun.sleep(5);
      running--;
      done.push(n);
    })));
    expect(peak).toBe(2);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("mapConcurrent() and forEachAdaptive()", () => {
  test("mapConcurrent keeps input order", async () => {
    expect(await mapConcurrent([30, 10, 20], 3, async (ms) => {
      await Bun.sleep(ms);
      return ms * 2;
    })).toEqual([60, 20, 40]);
  });
  test("forEachAdaptive stays synchronous when items are fast and goes async when they are slow", async () => {
    const seen: string[] = [];
    const wentAsync = await forEachAdaptive([1, 2, 3], (n) => seen.push(`sync${n}`), async (n) => void seen.push(`async${n}`), { probeCount: 2, thresholdMicros: 100_000 });
    expect([wentAsync, seen]).toEqual([false, ["sync1", "sync2", "sync3"]]);
    const slow: string[] = [];
    const slowAsync = await forEachAdaptive([1, 2, 3], (n) => {
      Bun.sleepSync(2);
      slow.push(`sync${n}`);
    }, async (n) => void slow.push(`async${n}`), { probeCount: 2, thresholdMicros: 100 });
    expect([slowAsync, slow]).toEqual([true, ["sync1", "sync2", "async3"]]);
  });
  test("forEachAdaptive does not time the first item, which pays one-time costs", async () => {
    const seen: string[] = [];
    const wentAsync = await forEachAdaptive([1, 2, 3, 4], (n) => {
      if (n === 1) Bun.sleepSync(5); // opening a database, say
      seen.push(`sync${n}`);
    }, async (n) => void seen.push(`async${n}`), { probeCount: 3, thresholdMicros: 1000 });
    expect([wentAsync, seen]).toEqual([false, ["sync1", "sync2", "sync3", "sync4"]]);
  });
});
