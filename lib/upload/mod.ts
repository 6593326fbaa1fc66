/**
 * Uploads (cli-spec §4, §6): {@link upload} stores files and directories as buffers and writes
 * their sidecars; {@link openDestination} opens a `--destination` buffer directory for it. The
 * helper thread, the one-pass upload and the shared-memory claims are `_`-prefixed internals.
 * @module
 */
export { upload, type DestinationOptions, type UploadOptions, type UploadSummary } from "./upload.ts";
export { openDestination, type ExistingPolicy, type TransferMode } from "./_destination.ts";
