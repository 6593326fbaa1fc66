import { describe, expect, test } from "bun:test";
import { createProcessTree, isProcessAlive, killProcessTree, listProcessTree, PROCESS_TREE_ENV, reapAbandonedTrees } from "../../../lib/process/process-tree.ts";

/** Starts `script` in bash as a marked, detached job; resolves once it printed "ready". */
async function startJob(script: string, env: Record<string, string | undefined> = process.env) {
  const tree = createProcessTree(env);
  const child = Bun.spawn(["/bin/bash", "-c", script], { env: { ...env, ...tree.env }, detached: true, stdout: "pipe", stderr: "ignore", stdin: "ignore" });
  tree.attach(child.pid);
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { tree, child, text };
}

function pidsIn(text: string): number[] {
  return [...text.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

describe("process tree", () => {
  test("killProcessTree() kills setsid, double-fork and nohup/disown escapees after bash exited", async () => {
    const script = [
      "setsid sleep 1001 & echo pid=$!",
      "(sleep 1002 & echo pid=$!)",
      "nohup sleep 1003 >/dev/null 2>&1 & echo pid=$!; disown",
      "echo ready",
    ].join("\n");
    const { tree, child, text } = await startJob(script);
    await child.exited;
    const escapees = pidsIn(text);
    expect(escapees.length).toBe(3);
    const listed = listProcessTree(tree);
    for (const pid of escapees) expect(listed).toContain(pid);
    const survivors = await killProcessTree(tree, { graceMs: 1000 });
    expect(survivors).toEqual([]);
    for (const pid of escapees) expect(isProcessAlive(pid)).toBe(false);
    expect(listProcessTree(tree)).toEqual([]);
  });

  test("listProcessTree() finds the same escapees through the pid range as through the full listing of /proc", async () => {
    const { tree, child, text } = await startJob(["setsid sleep 1011 & echo pid=$!", "(sleep 1012 & echo pid=$!)", "echo ready"].join("\n"));
    await child.exited;
    try {
      const escapees = pidsIn(text);
      expect(tree.rootForkCount).toBeGreaterThan(0);
      const throughRange = listProcessTree(tree);
      const throughListing = listProcessTree({ ...tree, rootForkCount: null });
      for (const pid of escapees) expect(throughRange).toContain(pid);
      expect(throughRange).toEqual(throughListing);
    } finally {
      await killProcessTree(tree, { graceMs: 0 });
    }
  });

  test("killProcessTree() escalates to SIGKILL for a process that ignores SIGTERM", async () => {
    const { tree, child, text } = await startJob("bash -c 'trap \"\" TERM; echo pid=$$; echo ready; while :; do sleep 0.05; done' & wait");
    const [stubborn] = pidsIn(text);
    expect(isProcessAlive(stubborn!)).toBe(true);
    expect(await killProcessTree(tree, { graceMs: 200 })).toEqual([]);
    expect(isProcessAlive(stubborn!)).toBe(false);
    await child.exited;
  });

  test("listProcessTree() leaves other jobs alone", async () => {
    const a = await startJob("sleep 1004 & echo pid=$!; echo ready; wait");
    const b = await startJob("sleep 1005 & echo pid=$!; echo ready; wait");
    try {
      const [sleepB] = pidsIn(b.text);
      expect(listProcessTree(a.tree)).not.toContain(sleepB);
      expect(await killProcessTree(a.tree, { graceMs: 0 })).toEqual([]);
      expect(isProcessAlive(sleepB!)).toBe(true);
    } finally {
      await killProcessTree(b.tree, { graceMs: 0 });
    }
  });

  test("createProcessTree() keeps the markers of an enclosing job, so the outer kill reaches nested jobs", async () => {
    const outer = createProcessTree({});
    const inner = createProcessTree(outer.env);
    expect(inner.env[PROCESS_TREE_ENV]).toBe(`${outer.marker}:${inner.marker}`);
    const { tree, text } = await startJob("setsid sleep 1006 & echo pid=$!; echo ready", { ...process.env, ...outer.env });
    // A process caught in the middle of exec shows an empty environment for an instant; the
    // killer scans again until none is left, so the test looks again too (bounded).
    let found = listProcessTree(outer);
    for (let i = 0; i < 50 && !found.includes(pidsIn(text)[0]!); i++) {
      await Bun.sleep(20);
      found = listProcessTree(outer);
    }
    expect(found).toContain(pidsIn(text)[0]!);
    await killProcessTree(tree, { graceMs: 0 });
  });

  test("reapAbandonedTrees() kills processes whose owner is dead, not those of a live owner", async () => {
    // A dead owner: a marker naming a pid that has exited.
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const deadMarker = `${gone.pid}-1-test`;
    const orphan = Bun.spawn(["/bin/bash", "-c", "setsid sleep 1007 >/dev/null 2>&1 & echo pid=$!"], { env: { ...process.env, [PROCESS_TREE_ENV]: deadMarker }, stdout: "pipe" });
    const [orphanPid] = pidsIn(await new Response(orphan.stdout).text());
    const live = await startJob("setsid sleep 1008 & echo pid=$!; echo ready");
    try {
      const killed = reapAbandonedTrees();
      expect(killed).toContain(orphanPid!);
      expect(killed).not.toContain(pidsIn(live.text)[0]!);
      expect(isProcessAlive(pidsIn(live.text)[0]!)).toBe(true);
    } finally {
      await killProcessTree(live.tree, { graceMs: 0 });
    }
  });
});
