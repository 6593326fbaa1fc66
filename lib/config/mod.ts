/**
 * Configuration: the environment, `seamless.yaml`/`seamless.profile.yaml` (the command
 * language of services-spec §7.2), `~/.seamless/clusters.yaml` and the launch plans of
 * services-spec §5.1, resolved into one {@link SeamlessConfig}. The only module that reads
 * `SEAMLESS_*` variables and configuration files (cli-spec §3.3, §10; services-spec §6.6, §7).
 * @module
 */
export * from "./config-error.ts";
export * from "./launch-plan.ts";
export * from "./resolve-config.ts";
export { CONFIG_FILE_NAMES } from "./_commands.ts";
