import { isDataset, type DatasetRef } from "./dataset.js";
import type { Table } from "./table.js";

// References that wire a pipeline together. They carry a phantom type so a step's function sees
// typed inputs; at run time they are only names.
const STEP_REF = Symbol.for("strata.stepRef");
const PARAM_REF = Symbol.for("strata.paramRef");

declare const phantom: unique symbol;

/** The output of a step, usable as another step's input. `T` is what the step returned. */
export interface StepRef<T> {
  readonly [STEP_REF]: true;
  /** The output's name (the step's name unless the step set `output`). */
  readonly output: string;
  readonly [phantom]?: T;
}

/** One run parameter, usable as a step input or a bound value in SQL. */
export interface ParamRef<T> {
  readonly [PARAM_REF]: true;
  readonly param: string;
  readonly [phantom]?: T;
}

export function stepRef<T>(output: string): StepRef<T> {
  return { [STEP_REF]: true, output } as StepRef<T>;
}

export function paramRef<T>(param: string): ParamRef<T> {
  return { [PARAM_REF]: true, param } as ParamRef<T>;
}

export function isStepRef(value: unknown): value is StepRef<unknown> {
  return typeof value === "object" && value !== null && STEP_REF in value;
}

export function isParamRef(value: unknown): value is ParamRef<unknown> {
  return typeof value === "object" && value !== null && PARAM_REF in value;
}

/**
 * What a step may take as an input: another step's output, a run parameter, a dataset (its live
 * version, or the version this run writes), or an output named by a string (Kedro-style wiring;
 * its type is `unknown`).
 */
export type InputRef = StepRef<unknown> | ParamRef<unknown> | DatasetRef<unknown> | string;
export type Inputs = Readonly<Record<string, InputRef>>;

/** The values a step's function receives for its declared inputs. */
export type InputValues<I extends Inputs> = {
  readonly [K in keyof I]: I[K] extends StepRef<infer T>
    ? T
    : I[K] extends ParamRef<infer P>
      ? P
      : I[K] extends DatasetRef<infer R>
        ? Table<R>
        : unknown;
};

/** The output (or dataset) name an input reads; undefined for a param. */
export function outputOf(ref: InputRef): string | undefined {
  if (typeof ref === "string") return ref;
  if (isStepRef(ref)) return ref.output;
  if (isDataset(ref)) return ref.name;
  return undefined;
}
