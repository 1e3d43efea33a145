import type { ColumnSpec, Schema } from "../data/column-types.js";

const COMMAND = Symbol.for("strata.command");

export interface CommandOptions {
  /** File format inputs are exported in and the output is read from. Default csv (with a header). */
  readonly exchange?: "csv" | "jsonl";
  /** Extra environment variables for the program (values, or `$NAME` to pass one of ours on). */
  readonly env?: Readonly<Record<string, string>>;
  /** The output's columns, when the step writes no dataset (a dataset output brings its own). */
  readonly schema?: Schema;
}

/** A step implemented by another program: Python, R, shell, anything with a command line. */
export interface CommandSpec {
  readonly [COMMAND]: true;
  /** Program and arguments; the program may be an interpreter name from the project's `interpreters`. */
  readonly argv: readonly string[];
  readonly exchange: "csv" | "jsonl";
  readonly env: Readonly<Record<string, string>>;
  readonly columns: Readonly<Record<string, ColumnSpec>> | undefined;
}

/**
 * A step that runs a program. Its table inputs are exported as files, named in STRATA_INPUT_<NAME>
 * variables; params come as STRATA_PARAM_<NAME> and STRATA_PARAMS (JSON); the program writes its
 * output to the file named by STRATA_OUTPUT, which is read back and checked against the schema.
 *
 * ```ts
 * step("cohorts", { inputs: { daily }, output: cohortRevenue }, command(["python", "steps/cohorts.py"]))
 * ```
 */
export function command(argv: readonly [string, ...string[]], options: CommandOptions = {}): CommandSpec {
  return {
    [COMMAND]: true,
    argv,
    exchange: options.exchange ?? "csv",
    env: options.env ?? {},
    columns: options.schema ? Object.fromEntries(Object.entries(options.schema).map(([name, c]) => [name, c.spec])) : undefined,
  };
}

export function isCommand(value: unknown): value is CommandSpec {
  return typeof value === "object" && value !== null && COMMAND in value;
}
