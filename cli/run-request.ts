/**
 * The transformation request of a `seamless run` command line, built in one place for `run`
 * and for the commands that inspect it without running it (`explain`, `forget -- COMMAND`).
 * @module
 */
import { existsSync, statSync } from "node:fs";
import { SeamlessError, UsageError } from "../lib/errors.ts";
import { parseVariables, type BashRunRequest } from "../lib/transformation/prepare-bash.ts";
import { expandUser } from "../lib/bash/arguments.ts";

/** Run flags that change nothing about the transformation, and so mean nothing to an inspection. */
export const NOT_FOR_INSPECTION = new Set(["dry", "writeJob", "upload", "force", "confirm", "noDownload", "scratch", "verbose", "quiet"]);

/** The transformation request that `seamless run` (and `explain`, `forget -- COMMAND`) builds from its flags. */
export function runRequestOf(values: Record<string, unknown>, positionals: string[]): BashRunRequest {
  if (values.unquote && positionals.length !== 1) throw new UsageError("-c (unquote) requires a single argument");
  // The workdir string of cli-spec §3.11: the -w value as given (after ~), else the absolute cwd, never ".".
  const workdir = values.workdir === undefined ? process.cwd() : expandUser(values.workdir as string);
  if (!existsSync(workdir) || !statSync(workdir).isDirectory()) throw new SeamlessError(`Working directory "${workdir}" does not exist`);
  return {
    command: values.unquote ? positionals[0]! : positionals.join(" "),
    workdir,
    rootMode: values.rootMode === true,
    rules: { rule1: values.noRule1 !== true, rule2: values.noRule2 !== true },
    mappingMode: (values.mapping as "strip" | "extension" | undefined) ?? "literal",
    primary: values.primary === undefined ? 1 : Number(values.primary),
    inputs: (values.input as string[] | undefined) ?? [],
    inputFiles: (values.inputFile as string[] | undefined) ?? [],
    metafiles: (values.metafile as string[] | undefined) ?? [],
    vars: parseVariables((values.var as string[] | undefined) ?? [], "--var"),
    metavars: parseVariables((values.metavar as string[] | undefined) ?? [], "--metavar"),
    prologues: (values.prologue as string[] | undefined) ?? [],
    captures: (values.capture as string[] | undefined) ?? [],
    directPrint: values.directPrint === true,
    environment: { dockerImage: values.docker as string | undefined, condaEnvironment: values.conda as string | undefined },
  };
}

