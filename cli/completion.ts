import { UsageError } from "../lib/errors.ts";
import type { CommandSpec } from "./args.ts";
import { COMMANDS } from "./main.ts";
import { spec as checksumSpec } from "./checksum.ts";
import { spec as downloadSpec } from "./download.ts";
import { spec as explainSpec } from "./explain.ts";
import { spec as forgetSpec } from "./forget.ts";
import { spec as gcSpec } from "./gc.ts";
import { spec as hashserverSpec } from "./hashserver.ts";
import { spec as logSpec } from "./log.ts";
import { spec as resolveSpec } from "./resolve.ts";
import { spec as runTransformationSpec } from "./run-transformation.ts";
import { spec as runSpec } from "./run.ts";
import { spec as statsSpec } from "./stats.ts";
import { spec as uploadSpec } from "./upload.ts";
import { writeStdout } from "./stdio.ts";

export const spec: CommandSpec = {
  name: "completion",
  usage: "seamless completion bash|zsh|fish",
  summary:
    "Print a shell completion script: commands, their flags, and file names. For example:\n" +
    "  bash: seamless completion bash > ~/.local/share/bash-completion/completions/seamless\n" +
    "  zsh:  seamless completion zsh > ~/.zfunc/_seamless   (with fpath+=(~/.zfunc) before compinit)\n" +
    "  fish: seamless completion fish > ~/.config/fish/completions/seamless.fish",
  positionals: "some",
  options: [],
};

const SPECS: CommandSpec[] = [runSpec, runTransformationSpec, checksumSpec, uploadSpec, downloadSpec, resolveSpec, hashserverSpec, logSpec, explainSpec, statsSpec, gcSpec, forgetSpec, spec];

/** Every command with its flags (commands without a known flag table complete files only). */
function commandFlags(): { name: string; summary: string; spec: CommandSpec | null }[] {
  const names = [...Object.keys(COMMANDS), "completion"];
  return [...new Set(names)].map((name) => ({
    name,
    summary: COMMANDS[name]?.summary ?? "print a shell completion script",
    spec: SPECS.find((candidate) => candidate.name === name) ?? null,
  }));
}

const flagsOf = (spec: CommandSpec | null) => (spec ? [...spec.options.flatMap((option) => option.names), "--help"] : ["--help"]);
const quoteSingle = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The bash script: commands first, then the command's flags after a dash, files otherwise. */
export function bashCompletion(): string {
  const commands = commandFlags();
  const cases = commands.map(({ name, spec }) => `    ${name}) opts=${quoteSingle(flagsOf(spec).join(" "))} ;;`).join("\n");
  return `# seamless completion for bash
_seamless() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W ${quoteSingle(commands.map((c) => c.name).join(" ") + " --help --version")} -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o filenames -o bashdefault -F _seamless seamless
`;
}

/** The zsh script (`#compdef`): described commands, described flags, files. */
export function zshCompletion(): string {
  const escape = (text: string) => text.replace(/\\/g, "\\\\").replace(/([[\]:'])/g, "\\$1");
  const commands = commandFlags();
  const described = commands.map(({ name, summary }) => `    '${name}:${escape(summary)}'`).join("\n");
  const cases = commands.map(({ name, spec }) => {
    const options = (spec?.options ?? []).flatMap((option) => option.names.map((flag) => {
      const value = option.kind === "value" || option.kind === "values" ? `:${escape(option.metavar ?? "value")}:_files` : "";
      return `'${option.kind === "values" || option.kind === "count" ? "*" : ""}${flag}[${escape(option.help)}]${value}'`;
    }));
    return `    ${name}) _arguments -S ${[...options, "'*:file:_files'"].join(" ")} ;;`;
  }).join("\n");
  return `#compdef seamless
# seamless completion for zsh
_seamless() {
  local -a commands
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  words=("\${words[@]:1}")
  (( CURRENT-- ))
  case "\${words[1]}" in
${cases}
    *) _files ;;
  esac
}
if [ "$funcstack[1]" = "_seamless" ]; then _seamless "$@"; else compdef _seamless seamless; fi
`;
}

/** The fish script: subcommands with descriptions, then each command's flags. */
export function fishCompletion(): string {
  const escape = (text: string) => quoteSingle(text.replace(/\n/g, " "));
  const lines = ["# seamless completion for fish", "complete -c seamless -f -n __fish_use_subcommand -l help -d 'show help'", "complete -c seamless -f -n __fish_use_subcommand -l version -d 'print the version'"];
  for (const { name, summary, spec } of commandFlags()) {
    lines.push(`complete -c seamless -f -n __fish_use_subcommand -a ${name} -d ${escape(summary)}`);
    for (const option of spec?.options ?? []) {
      const takes = option.kind === "value" || option.kind === "values" ? " -r" : "";
      for (const flag of option.names) {
        const how = flag.startsWith("--") ? `-l ${flag.slice(2)}` : flag.length === 2 ? `-s ${flag.slice(1)}` : `-o ${flag.slice(1)}`;
        lines.push(`complete -c seamless -n '__fish_seen_subcommand_from ${name}' ${how}${takes} -d ${escape(option.help)}`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const { parseOrHelp } = await import("./args.ts");
  const parsed = parseOrHelp(spec, argv);
  if (typeof parsed === "number") return parsed;
  const shell = parsed.positionals[0];
  const scripts: Record<string, () => string> = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion };
  if (parsed.positionals.length !== 1 || !shell || !scripts[shell]) throw new UsageError(`completion needs one shell: bash, zsh or fish${shell ? `, not "${shell}"` : ""}`);
  writeStdout(scripts[shell]!());
  return 0;
}
