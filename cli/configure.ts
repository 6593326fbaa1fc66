/**
 * The configuration a command runs under: the environment, the working directory's
 * seamless.yaml, and the command's --project/--stage/--hashserver flags.
 * @module
 */
import { resolveConfig, type SeamlessConfig } from "../lib/config/mod.ts";

/** Resolves the configuration from parsed flag values. */
export function configFromFlags(values: Record<string, unknown>): SeamlessConfig {
  return resolveConfig(process.env, process.cwd(), {
    project: values.project as string | undefined,
    stage: values.stage as string | undefined,
    hashserver: values.hashserver as string | undefined,
  });
}
