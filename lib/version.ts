/** The version printed by `seamless --version` and recorded in execution records. */
export const VERSION = "0.1.0";
