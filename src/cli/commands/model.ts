import { writeFileSync } from "node:fs";
import {
  fitCltvModel,
  predictCltv,
  readModelFile,
  readSummaryCsv,
  type CltvModelFile,
  type CltvModelKind,
} from "../../models/cltv/model-file.js";
import { EXIT } from "../exit-codes.js";

export interface ModelFitOptions {
  out?: string;
  json?: boolean;
  penalizer?: number;
}

const round = (v: number, digits = 4): string => (Math.abs(v) >= 1000 ? v.toFixed(1) : v.toPrecision(digits));

/** `strata model fit <model> <summary.csv>`: fits by maximum likelihood, prints the parameters, writes the model file. */
export async function modelFitCommand(kind: CltvModelKind, summaryPath: string, options: ModelFitOptions): Promise<number> {
  const summary = readSummaryCsv(summaryPath, { needMoney: kind === "gamma-gamma" });
  const started = performance.now();
  const model = await fitCltvModel(kind, summary, options.penalizer === undefined ? {} : { penalizer: options.penalizer });
  const ms = performance.now() - started;
  if (options.out) writeFileSync(options.out, `${JSON.stringify(model, null, 2)}\n`);
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ ...model, ...(options.out ? { out: options.out } : {}), durationMs: Math.round(ms * 10) / 10 })}\n`,
    );
  } else {
    const lines = [
      `${kind} fit on ${model.data.customers} customers (${model.data.repeatCustomers} repeat) from ${summaryPath} in ${ms.toFixed(0)} ms`,
      "",
      ...Object.entries(model.params).map(([name, value]) => {
        const se = model.standardErrors?.[name];
        return `  ${name.padEnd(6)} ${round(value).padStart(10)}${se === undefined ? "" : `   (se ${round(se, 3)})`}`;
      }),
      "",
      `  log-likelihood ${model.logLikelihood.toFixed(3)} · ${model.iterations} iterations · ${model.converged ? "converged" : "NOT converged: try --penalizer 0.001"}`,
      options.out ? `\nwrote ${options.out}: strata model predict ${options.out} ${summaryPath} --horizon <t> --out predictions.csv` : "",
    ];
    process.stdout.write(`${lines.join("\n").trimEnd()}\n`);
  }
  return model.converged ? EXIT.OK : EXIT.FAILED;
}

export interface ModelPredictOptions {
  horizon: number;
  out: string;
  json?: boolean;
}

const csvCell = (v: string | number): string => (typeof v === "number" ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** `strata model predict <model.json> <summary.csv>`: one row per customer into a CSV. */
export async function modelPredictCommand(modelPath: string, summaryPath: string, options: ModelPredictOptions): Promise<number> {
  const model: CltvModelFile = readModelFile(modelPath);
  const summary = readSummaryCsv(summaryPath, { needMoney: model.model === "gamma-gamma" });
  const rows = await predictCltv(model, summary, options.horizon);
  const columns = Object.keys(rows[0] ?? { customer_id: "" });
  writeFileSync(options.out, `${[columns.join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c] ?? "")).join(","))].join("\n")}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify({ out: options.out, rows: rows.length, columns, model: model.model })}\n`);
  else process.stdout.write(`wrote ${rows.length} rows (${columns.join(", ")}) to ${options.out}\n`);
  return EXIT.OK;
}
