import { parseCommandLine } from "./lib/bash/parse.ts";
for (const s of process.argv.slice(2)) {
  const l = await parseCommandLine(s);
  console.log("## " + s);
  for (const c of l.commands) console.log(JSON.stringify(c.words.map(w=>w.text)), JSON.stringify(c.redirects.map(r=>[r.op,r.fd,r.target])), JSON.stringify(c.pipeline));
  if (l.compoundRedirects.length) console.log("compound", JSON.stringify(l.compoundRedirects));
}
