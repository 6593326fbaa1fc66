import { SeamlessError } from "../errors.ts";

/** A configuration file, command or environment variable that cannot be used (exit 1). */
export class ConfigError extends SeamlessError {}
