/**
 * The prologue of a bash transformation's script (cli-spec §3.16 "Script run").
 * @module
 */

/** The prologue of cli-spec §3.16, byte for byte: `transform.sh` in the workspace shows it (a command may read or copy that file). */
export const SPEC_PROLOGUE = "set -u -e\ntrap 'jobs -p | xargs -r kill' EXIT\n";

/**
 * The prologue that runs: {@link SPEC_PROLOGUE}, except that its EXIT trap forks the
 * `jobs -p | xargs` pipeline only when a background job is left (`jobs %%` is a builtin that
 * fails when the job table is empty). Every remaining background job still gets SIGTERM at exit;
 * exit status and `set -e` are unchanged (the test is an `if` condition). A command without
 * background jobs no longer pays a fork and an exec of xargs at every exit (~5 ms a job,
 * BENCHMARKS.md "jobserver throughput").
 */
export const RUN_PROLOGUE = "set -u -e\ntrap 'if jobs %% >/dev/null 2>&1; then jobs -p | xargs -r kill; fi' EXIT\n";
