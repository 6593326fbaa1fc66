/**
 * The one place that parses YAML (`Bun.YAML`, which survives `bun build --compile`).
 * @module
 */
import { ConfigError } from "./config-error.ts";

/**
 * Parses YAML text.
 *
 * @param text the file content
 * @param path the file, named in the error
 * @returns the parsed value (null for an empty document)
 * @throws {ConfigError} when the text is not valid YAML
 */
export function parseYamlFile(text: string, path: string): unknown {
  try {
    return Bun.YAML.parse(text) ?? null;
  } catch (error) {
    const detail = (error as Error).message.replace(/^YAML Parse error:\s*/i, "");
    throw new ConfigError(`Cannot read "${path}": not valid YAML (${detail})`);
  }
}
