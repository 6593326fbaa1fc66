/**
 * Preload for `hit-modules.ts`: appends the path of every TypeScript or JavaScript module the
 * process loads to the file `$SEAMLESS_MODULE_LOG` (nothing when it is unset). Node built-ins
 * do not pass through here; the lazy ones are counted by whoever imports `lib/disk/lazy-node.ts`.
 */
import { plugin } from "bun";
import { appendFileSync, readFileSync } from "node:fs";

const logFile = process.env.SEAMLESS_MODULE_LOG;
plugin({
  name: "module-log",
  setup(build) {
    build.onLoad({ filter: /\.(ts|js|mjs)$/ }, (args) => {
      if (logFile) appendFileSync(logFile, `${args.path}\n`);
      return { contents: readFileSync(args.path, "utf8"), loader: args.path.endsWith(".ts") ? "ts" : "js" };
    });
  },
});
