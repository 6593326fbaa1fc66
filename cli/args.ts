/**
 * Flag parsing with Python argparse semantics, because users carry their seamless-run habits
 * over: long options may be abbreviated to any unambiguous prefix, short options may be
 * several letters (`-g1`, `-cp`, `-nd`), `-v` counts, and a command may take the rest of the
 * line verbatim (argparse REMAINDER, cli-spec §3.1).
 * @module
 */
import { UsageError } from "../lib/errors.ts";
import { writeStdout } from "./stdio.ts";

/** One option. */
export interface OptionSpec {
  /** Key in the result. */
  key: string;
  /** Every spelling, e.g. `["-i", "--input"]`. */
  names: string[];
  /** flag: boolean; count: -v style; value: one argument; values: repeatable; pair: two arguments. */
  kind: "flag" | "count" | "value" | "values" | "pair";
  /** For `flag`: store this value instead of `true` (argparse store_const). */
  constValue?: unknown;
  help: string;
  metavar?: string;
}

/** `-v` (repeatable) and `-q`: verbosity, read with {@link verbosityOf}. */
export const VERBOSITY_OPTIONS: OptionSpec[] = [
  { key: "verbose", names: ["-v"], kind: "count", help: "more messages (repeatable, up to 3)" },
  { key: "quiet", names: ["-q"], kind: "flag", help: "no messages" },
];

/** `--hashserver URL`: a remote buffer server instead of the local cache (env SEAMLESS_HASHSERVER). */
export const HASHSERVER_OPTION: OptionSpec = {
  key: "hashserver", names: ["--hashserver"], kind: "value", metavar: "URL", help: "remote buffer server (env SEAMLESS_HASHSERVER)",
};

/** `--project P[:SUB]` and `--stage S[:SUB]`: select project and stage (services-spec §6.6, §7.2). */
export const SCOPE_OPTIONS: OptionSpec[] = [
  { key: "project", names: ["--project"], kind: "value", metavar: "P[:SUB]", help: "project (and subproject) of seamless.yaml's cluster" },
  { key: "stage", names: ["--stage"], kind: "value", metavar: "S[:SUB]", help: "stage (and substage): selects 'stage S' blocks and servers" },
];

/** A command's flag table. */
export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  options: OptionSpec[];
  /** remainder: everything from the first positional on is positional (seamless-run). */
  positionals: "none" | "some" | "remainder";
  /** Extra help text after the options. */
  epilog?: string;
}

export type ParsedArgs = { values: Record<string, unknown>; positionals: string[]; help: boolean };

/** Finds the option an argument names, honouring unambiguous long-option prefixes. */
function findOption(spec: CommandSpec, name: string): OptionSpec {
  for (const option of spec.options) if (option.names.includes(name)) return option;
  if (name.startsWith("--")) {
    const matches = spec.options.filter((o) => o.names.some((n) => n.startsWith("--") && n.startsWith(name)));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      const spelled = matches.flatMap((o) => o.names.filter((n) => n.startsWith(name)));
      throw new UsageError(`ambiguous option: ${name} could match ${spelled.join(", ")}`);
    }
  }
  throw new UsageError(`unrecognized argument: ${name}`);
}

/**
 * Parses argv for one command.
 *
 * @throws {UsageError} for unknown or malformed flags
 */
export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (spec.positionals === "remainder" && positionals.length > 0) {
      positionals.push(...argv.slice(i)); // at once: 10k file arguments one by one cost milliseconds
      break;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    // argparse would hand `--` to seamless-run's command (cli-spec §3.1); every other tool ends
    // its options there, and so do we.
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name = arg;
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      name = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    }
    let option: OptionSpec;
    try {
      option = findOption(spec, name);
    } catch (error) {
      // -vvv: a run of a counting short flag
      const counting = spec.options.find((o) => o.kind === "count" && o.names.some((n) => n.length === 2 && /^-(.)\1*$/.test(arg) && arg[1] === n[1]));
      if (counting) {
        values[counting.key] = ((values[counting.key] as number) ?? 0) + arg.length - 1;
        continue;
      }
      throw error;
    }
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`argument ${option.names.join("/")}: expected one argument`);
      return next;
    };
    switch (option.kind) {
      case "flag":
        values[option.key] = option.constValue ?? true;
        break;
      case "count":
        values[option.key] = ((values[option.key] as number) ?? 0) + 1;
        break;
      case "value":
        values[option.key] = takeValue();
        break;
      case "values":
        values[option.key] = [...((values[option.key] as string[]) ?? []), takeValue()];
        break;
      case "pair": {
        const first = takeValue();
        const second = argv[++i];
        if (second === undefined) throw new UsageError(`argument ${option.names.join("/")}: expected 2 arguments`);
        values[option.key] = [first, second];
        break;
      }
    }
  }
  if (spec.positionals === "none" && positionals.length > 0 && !help) {
    throw new UsageError(`unexpected argument: ${positionals[0]}`);
  }
  return { values, positionals, help };
}

/** The `--help` text of a command. */
export function formatHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, "", spec.summary, "", "Options:"];
  const rows = spec.options.map((o) => {
    const arg = o.kind === "value" || o.kind === "values" ? ` ${o.metavar ?? "VALUE"}` : o.kind === "pair" ? ` ${o.metavar ?? "A B"}` : "";
    return [`${o.names.join(", ")}${arg}`, o.help] as const;
  });
  rows.push(["-h, --help", "show this help and exit"]);
  const width = Math.min(34, Math.max(...rows.map(([left]) => left.length)) + 2);
  for (const [left, right] of rows) {
    lines.push(left.length >= width ? `  ${left}\n  ${" ".repeat(width)}${right}` : `  ${left.padEnd(width)}${right}`);
  }
  if (spec.epilog) lines.push("", spec.epilog);
  return `${lines.join("\n")}\n`;
}

/** Verbosity from `-v` (count) and `-q` (store -1; later -v count up from there, as argparse does). */
export function verbosityOf(values: Record<string, unknown>): number {
  const quiet = values.quiet === true;
  const verbose = (values.verbose as number | undefined) ?? 0;
  return Math.min(3, quiet ? -1 + verbose : verbose);
}

/**
 * The usage error of a command called without the arguments it needs (argparse: "the following
 * arguments are required"), naming its usage line.
 */
export function missingArgumentsError(spec: CommandSpec): UsageError {
  return new UsageError(`missing arguments (usage: ${spec.usage})`);
}

/**
 * Parses argv and answers `--help` (stdout, exit 0), so that every command starts the same way.
 *
 * @returns the parsed arguments, or the exit code when help was printed
 * @throws {UsageError} for bad flags, and for missing positionals when they are required
 */
export function parseOrHelp(spec: CommandSpec, argv: string[], options: { requirePositionals?: boolean } = {}): ParsedArgs | number {
  const parsed = parseCommandArgs(spec, argv);
  if (parsed.help) {
    writeStdout(formatHelp(spec));
    return 0;
  }
  if (options.requirePositionals && parsed.positionals.length === 0) throw missingArgumentsError(spec);
  return parsed;
}
