import { SeamlessError } from "../errors.ts";

/** A server that cannot be found or started (exit 1); the message names its log when there is one. */
export class LaunchError extends SeamlessError {}
