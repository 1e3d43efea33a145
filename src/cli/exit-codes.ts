/** Exit codes of every `strata` command. */
export const EXIT = {
  OK: 0,
  /** The run (or the command's work) failed. */
  FAILED: 1,
  /** Bad usage or input: a wrong param, an unknown pipeline, a broken project. Nothing ran. */
  USAGE: 2,
  /** Interrupted by Ctrl-C. */
  INTERRUPTED: 130,
} as const;
