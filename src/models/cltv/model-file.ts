import { readFileSync } from "node:fs";
import { StrataError } from "../../errors/strata-error.js";
import { bgNbdPredictor, fitBgNbd, type BgNbdParams } from "./bg-nbd.js";
import { expectedSpend, fitGammaGamma, type GammaGammaParams } from "./gamma-gamma.js";
import { fitParetoNbd, paretoNbdPredictor, type ParetoNbdParams } from "./pareto-nbd.js";
import { summaryOf, type CustomerSummary } from "./summary.js";

export const CLTV_MODELS = ["bg-nbd", "pareto-nbd", "gamma-gamma"] as const;
export type CltvModelKind = (typeof CLTV_MODELS)[number];

/** A fitted model as a JSON file: what `strata model fit` writes and `strata model predict` reads. */
export interface CltvModelFile {
  readonly format: "strata.cltv-model";
  readonly formatVersion: 1;
  readonly model: CltvModelKind;
  readonly params: Readonly<Record<string, number>>;
  readonly standardErrors: Readonly<Record<string, number>> | null;
  readonly logLikelihood: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** What it was fit on. */
  readonly data: { readonly customers: number; readonly repeatCustomers: number; readonly meanFrequency: number; readonly maxT: number };
  readonly fittedAt: string;
}

function modelError(message: string, details: Record<string, unknown> = {}): StrataError {
  return new StrataError("MODEL_INPUT_INVALID", message, { details });
}

/** Fits one of the CLTV models by maximum likelihood. */
export async function fitCltvModel(
  kind: CltvModelKind,
  data: CustomerSummary,
  options: { penalizer?: number } = {},
): Promise<CltvModelFile> {
  const fit =
    kind === "bg-nbd"
      ? await fitBgNbd(data, options)
      : kind === "pareto-nbd"
        ? await fitParetoNbd(data, options)
        : await fitGammaGamma(data, options);
  let repeat = 0;
  let sumX = 0;
  let maxT = 0;
  for (let i = 0; i < data.frequency.length; i++) {
    if (data.frequency[i]! > 0) repeat++;
    sumX += data.frequency[i]!;
    maxT = Math.max(maxT, data.T[i]!);
  }
  return {
    format: "strata.cltv-model",
    formatVersion: 1,
    model: kind,
    params: { ...fit.params },
    standardErrors: fit.standardErrors ? { ...fit.standardErrors } : null,
    logLikelihood: fit.logLikelihood,
    iterations: fit.iterations,
    converged: fit.converged,
    data: {
      customers: data.frequency.length,
      repeatCustomers: repeat,
      meanFrequency: data.frequency.length ? sumX / data.frequency.length : 0,
      maxT,
    },
    fittedAt: new Date().toISOString(),
  };
}

const PARAMS: Record<CltvModelKind, readonly string[]> = {
  "bg-nbd": ["r", "alpha", "a", "b"],
  "pareto-nbd": ["r", "alpha", "s", "beta"],
  "gamma-gamma": ["p", "q", "v"],
};

/** Reads and checks a model file. */
export function readModelFile(path: string): CltvModelFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw modelError(`${path}: not a readable JSON model file: ${(error as Error).message}`, { file: path });
  }
  const m = parsed as Partial<CltvModelFile>;
  if (m.format !== "strata.cltv-model" || !CLTV_MODELS.includes(m.model as CltvModelKind))
    throw modelError(`${path}: not a Strata CLTV model (write one with: strata model fit <model> <summary.csv> --out ${path})`, {
      file: path,
    });
  const missing = PARAMS[m.model!].filter((p) => typeof m.params?.[p] !== "number" || !(m.params[p] > 0));
  if (missing.length)
    throw modelError(`${path}: parameter${missing.length > 1 ? "s" : ""} ${missing.join(", ")} missing or not positive`, { file: path });
  return m as CltvModelFile;
}

/** One row per customer: expected purchases over the horizon and P(alive); or, for gamma-gamma, the expected spend. */
export async function predictCltv(
  model: CltvModelFile,
  data: CustomerSummary,
  horizon: number,
): Promise<Record<string, string | number>[]> {
  if (model.model === "gamma-gamma") {
    if (!data.monetaryValue) throw modelError("a gamma-gamma prediction needs a monetary_value column");
    const params = model.params as unknown as GammaGammaParams;
    return data.ids.map((id, i) => ({
      customer_id: id,
      expected_spend: expectedSpend(params, data.frequency[i]!, data.monetaryValue![i]!),
    }));
  }
  const predictor =
    model.model === "bg-nbd"
      ? await bgNbdPredictor(model.params as unknown as BgNbdParams)
      : await paretoNbdPredictor(model.params as unknown as ParetoNbdParams);
  return data.ids.map((id, i) => {
    const x = data.frequency[i]!;
    const tx = data.recency[i]!;
    const T = data.T[i]!;
    return {
      customer_id: id,
      expected_purchases: predictor.conditionalExpectedPurchases(horizon, x, tx, T),
      p_alive: predictor.probabilityAlive(x, tx, T),
    };
  });
}

/**
 * Reads a summary CSV with lifetimes' column names: customer_id (or ID), frequency, recency, T,
 * and monetary_value (needed by gamma-gamma). A bad value names the file, line and column.
 */
export function readSummaryCsv(path: string, options: { needMoney?: boolean } = {}): CustomerSummary {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw modelError(`${path}: cannot read it: ${(error as Error).message}`, { file: path });
  }
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const header = (lines[0] ?? "").split(",").map((h) => h.trim());
  const idColumn = ["customer_id", "ID", "id"].find((c) => header.includes(c));
  const need = ["frequency", "recency", "T", ...(options.needMoney ? ["monetary_value"] : [])];
  const missing = [...(idColumn ? [] : ["customer_id"]), ...need.filter((c) => !header.includes(c))];
  if (missing.length)
    throw modelError(`${path} line 1: the header lacks ${missing.join(", ")} (it has: ${header.join(", ")})`, {
      file: path,
      line: 1,
      missing,
    });
  const at = (name: string): number => header.indexOf(name);
  const money = header.includes("monetary_value");
  const rows: { customer_id: string; frequency: number; recency: number; T: number; monetary_value?: number }[] = [];
  lines.slice(1).forEach((line, k) => {
    if (line.trim() === "") return;
    const cells = line.split(",");
    const number = (column: string): number => {
      const text = (cells[at(column)] ?? "").trim();
      const value = Number(text);
      if (text === "" || !Number.isFinite(value) || value < 0)
        throw modelError(`${path} line ${k + 2}, column "${column}": ${JSON.stringify(text)} is not a number >= 0`, {
          file: path,
          line: k + 2,
          column,
          value: text,
        });
      return value;
    };
    rows.push({
      customer_id: (cells[at(idColumn!)] ?? "").trim(),
      frequency: number("frequency"),
      recency: number("recency"),
      T: number("T"),
      ...(money ? { monetary_value: number("monetary_value") } : {}),
    });
  });
  if (!rows.length) throw modelError(`${path}: no customers`, { file: path });
  return summaryOf(rows);
}
