/** Runs every benchmark in turn (`npm run bench`). Builds the binary first. */
const scripts = ["checksum.ts", "upload.ts", "download.ts", "run.ts", "database.ts", "config.ts", "queue.ts", "jobserver.ts", "everyday.ts", "hangs.ts", "clients.ts", "hit-modules.ts"];
const only = process.argv.slice(2);
Bun.spawnSync([process.execPath, "scripts/build.ts"], { stdout: "inherit", stderr: "inherit" });
for (const script of scripts.filter((s) => only.length === 0 || only.some((o) => s.startsWith(o)))) {
  console.log(`\n== ${script}`);
  const result = Bun.spawnSync([process.execPath, `scripts/bench/${script}`], { stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) process.exitCode = 1;
}
