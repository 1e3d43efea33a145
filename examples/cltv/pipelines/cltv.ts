import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { cltv, command, drift, expect, ingest, notNull, pipeline, range, sql, step, z } from "strata";
import { fitModels, scoreCustomers } from "../steps/models.js";
import { calibrationSummary, dailyPurchases, holdoutPurchases } from "../steps/preprocess.js";
import { clvScores, cohortRevenue, customerFacts, customerSummary, customerValue, rawTransactions, transactions } from "./datasets.js";

/** Periods of the summary's time unit in a month, as lifetimes counts them. */
const PERIODS_PER_MONTH = { days: 30, weeks: 4.345 } as const;

/**
 * Customer lifetime value, end to end: the raw CDNOW transaction log (69,659 purchases by 23,570
 * customers, 1997-01 to 1998-06), checked record by record (rejects to the quarantine) -> daily
 * purchases, filtered as params ask -> the RFM summary over the calibration period -> BG/NBD and
 * Gamma-Gamma fit by maximum likelihood -> CLV for every customer, checked and published to the
 * `customer-value` key-value storage as an atomic new version -> the model evaluated on the
 * holdout period (out/holdout.svg) and registered with those metrics. Cohort revenue (a Python
 * step with pandas) runs beside it.
 *
 *   npm run cltv            (node bin/strata.js run cltv --project examples/cltv)
 */
export default pipeline(
  "cltv",
  {
    description: "CDNOW transactions to CLV per customer: BG/NBD and Gamma-Gamma, served from the customer-value storage",
    params: z.object({
      /** End of the calibration period; later purchases are left out of the summary. */
      observationEnd: z.coerce.date().default(new Date("1997-09-30")),
      /** End of the holdout period the model is evaluated on (after observationEnd). */
      holdoutEnd: z.coerce.date().default(new Date("1998-06-30")),
      timeUnit: z.enum(["days", "weeks"]).default("weeks"),
      /** Preprocessing: purchase days whose spend is above this quantile of all of them are left out (1 keeps all). */
      outlierQuantile: z.coerce.number().min(0.5).max(1).default(1),
      /** Preprocessing: only customers with at least this many purchase days in the year up to observationEnd (0 keeps all). */
      minPurchasesLastYear: z.coerce.number().int().min(0).default(0),
      /** CLV horizon in months, and the monthly discount rate. */
      horizonMonths: z.coerce.number().int().min(1).max(120).default(12),
      discountRate: z.coerce.number().min(0).max(1).default(0.01),
    }),
  },
  ({ params }) => {
    const clean = ingest("ingest", { from: rawTransactions, to: transactions });

    // Several purchases on one day are one transaction; outliers and inactive customers filtered by params.
    const daily = step(
      "daily",
      {
        description: "one row per customer and purchase day, outliers and inactive customers filtered by params",
        inputs: { transactions: clean, end: params.observationEnd, q: params.outlierQuantile, n: params.minPurchasesLastYear },
        retries: 1,
      },
      dailyPurchases,
    );

    const summary = step(
      "summary",
      { inputs: { daily, end: params.observationEnd, unit: params.timeUnit }, output: customerSummary },
      calibrationSummary,
    );

    // A posteriori tests of the summary, before its new version goes live.
    expect(summary, [
      notNull("customer_id"),
      range("frequency", { min: 0 }),
      range("recency", { min: 0 }),
      drift("monetary_value", { method: "psi", threshold: 0.25, severity: "warn" }),
    ]);

    step("cohorts", { inputs: { daily }, output: cohortRevenue, timeoutMs: 120_000 }, command(["python", "steps/cohorts.py"]));

    step("publish", { inputs: { summary }, output: customerFacts }, sql`select * from ${"summary"}`);

    // BG/NBD for purchases and survival, Gamma-Gamma for spend, fit by maximum likelihood.
    const models = step("fit", { inputs: { summary } }, async ({ summary }, ctx) => {
      const fitted = await fitModels(await summary.rows());
      ctx.log.info({ bgNbd: fitted.bgNbd.params, gammaGamma: fitted.gammaGamma.params }, "models fitted");
      return fitted;
    });

    const scores = step(
      "score",
      {
        inputs: { summary, models, unit: params.timeUnit, months: params.horizonMonths, discount: params.discountRate },
        output: clvScores,
      },
      async ({ summary, models, unit, months, discount }) =>
        scoreCustomers(await summary.rows(), models, { months, discountRate: discount, periodsPerMonth: PERIODS_PER_MONTH[unit] }),
    );

    // Calibration/holdout evaluation: repeat purchase days after observationEnd, per customer,
    // against what BG/NBD predicts from the calibration period; drawn to out/holdout.svg.
    const holdout = step("holdout", { inputs: { daily, end: params.observationEnd, until: params.holdoutEnd } }, holdoutPurchases);
    const evaluation = step(
      "evaluate",
      { inputs: { summary, holdout, models, end: params.observationEnd, until: params.holdoutEnd, unit: params.timeUnit } },
      async ({ summary, holdout, models, end, until, unit }, ctx) => {
        const purchases = new Map((await holdout.rows()).map((r) => [r.customer_id, r.purchases]));
        const rows = await summary.rows();
        const data = cltv.summaryOf(rows);
        const days = (until.getTime() - end.getTime()) / 86_400_000;
        const chart = resolve("out/holdout.svg"); // steps run in the project folder
        const evaluation = cltv.evaluateHoldout(await cltv.bgNbdPredictor(models.bgNbd.params), data, {
          frequency: rows.map((r) => purchases.get(r.customer_id) ?? 0),
          duration: unit === "weeks" ? days / 7 : days,
        });
        mkdirSync("out", { recursive: true });
        writeFileSync(chart, cltv.holdoutChartSvg(evaluation, "CDNOW: holdout purchases by calibration frequency, actual vs BG/NBD"));
        ctx.log.info({ mae: evaluation.maePerCustomer }, "holdout evaluated");
        return {
          maePerCustomer: Math.round(evaluation.maePerCustomer * 1000) / 1000,
          actual: evaluation.actualTotal,
          predicted: Math.round(evaluation.predictedTotal),
          chart,
        };
      },
    );

    // The model, with its holdout metrics, as the next version of "customer-value" (alias candidate).
    // The artifact carries how scores were computed, so the `live` implementation of the
    // customer-value endpoint scores one customer exactly as the batch did.
    step(
      "register",
      { inputs: { models, evaluation, unit: params.timeUnit, months: params.horizonMonths, discount: params.discountRate } },
      async ({ models, evaluation, unit, months, discount }, ctx) => {
        const registered = await ctx.registerModel(
          "customer-value",
          {
            algorithm: "bg-nbd + gamma-gamma",
            params: { bgNbd: models.bgNbd.params, gammaGamma: models.gammaGamma.params },
            metrics: {
              holdoutMaePerCustomer: evaluation.maePerCustomer,
              holdoutActual: evaluation.actual,
              holdoutPredicted: evaluation.predicted,
              bgNbdLogLikelihood: models.bgNbd.logLikelihood,
              gammaGammaLogLikelihood: models.gammaGamma.logLikelihood,
            },
            artifact: { ...models, scoring: { months, discountRate: discount, periodsPerMonth: PERIODS_PER_MONTH[unit] } },
          },
          { alias: "candidate" },
        );
        return { model: "customer-value", version: registered.version, alias: "candidate" };
      },
    );

    // Published for the models service: a new version, live atomically, in the `customer-value` storage.
    step("serve", { inputs: { scores }, output: customerValue }, sql`select * from ${"scores"}`);

    // What `npm run cltv` prints at the end: the top customers by CLV, and how the model did.
    step("top", { inputs: { scores } }, async ({ scores }) =>
      (await scores.rows())
        .sort((a, b) => b.clv - a.clv)
        .slice(0, 10)
        .map((r) => ({
          customer: r.customer_id,
          clv: r.clv.toFixed(2),
          p_alive: r.p_alive.toFixed(3),
          expected_purchases: r.expected_purchases.toFixed(2),
          expected_spend: r.expected_spend.toFixed(2),
        })),
    );

    step("report", { inputs: { summary, evaluation } }, async ({ summary, evaluation }, ctx) => {
      const rows = await summary.rows();
      const repeaters = rows.filter((r) => r.frequency > 0).length;
      const report = {
        customers: rows.length,
        repeatCustomers: repeaters,
        repeatShare: Math.round((repeaters / Math.max(1, rows.length)) * 1000) / 1000,
        holdoutPurchases: { actual: evaluation.actual, predicted: evaluation.predicted },
        holdoutMaePerCustomer: evaluation.maePerCustomer,
        holdoutChart: evaluation.chart,
      };
      ctx.log.info(report, "cltv report");
      return report;
    });
  },
);
