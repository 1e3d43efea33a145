import { mkdirSync, writeFileSync } from "node:fs";
import { cltv, command, drift, expect, ingest, notNull, pipeline, range, sql, step, z } from "strata";
import { fitModels, scoreCustomers } from "../steps/models.js";
import { clvScores, cohortRevenue, customerFacts, customerSummary, customerValue, rawTransactions, transactions } from "./datasets.js";

/** Periods of the summary's time unit in a month, as lifetimes counts them. */
const PERIODS_PER_MONTH = { days: 30, weeks: 4.345 } as const;

/**
 * Customer lifetime value, first stage: the raw CDNOW transaction log (69,659 purchases by 23,570
 * customers, 1997-01 to 1998-06), checked record by record (rejects to the quarantine) and written
 * as the clean transactions dataset -> daily purchases -> the RFM
 * summary that BG/NBD and Gamma-Gamma fit on (a dataset, versioned) -> cohort revenue (Python,
 * pandas) -> the summary published to a key-value storage -> a cohort report.
 *
 *   npm run cltv            (node bin/strata.js run cltv --project examples/cltv)
 */
export default pipeline(
  "cltv",
  {
    description: "CDNOW transactions to the per-customer RFM summary, cohort revenue and a report",
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

    // Several purchases on one day count as one transaction (the BTYD convention). Then, as
    // params ask: days with outlying spend left out, and customers with too few recent purchases.
    const daily = step(
      "daily",
      {
        description: "one row per customer and purchase day, outliers and inactive customers filtered by params",
        inputs: { end: params.observationEnd, q: params.outlierQuantile, n: params.minPurchasesLastYear },
        retries: 1,
      },
      sql`with days as (
            select customer_id, date, sum(dollar_value) as amount, sum(number_of_cds) as cds from ${clean} group by customer_id, date
          ), kept as (
            select * from days where ${"q"} >= 1 or amount <= (select quantile_cont(amount, ${"q"}) from days)
          ), active as (
            select customer_id from kept
            where date > ${"end"}::date - interval 365 day and date <= ${"end"}::date
            group by customer_id having count(*) >= ${"n"}
          )
          select * from kept where ${"n"} = 0 or customer_id in (select customer_id from active)`,
    );

    const summary = step(
      "summary",
      { inputs: { daily, end: params.observationEnd, unit: params.timeUnit }, output: customerSummary },
      sql`with calibration as (
            select * from ${"daily"} where date <= ${"end"}::date
          ), firsts as (
            select customer_id, min(date) as first_date from calibration group by customer_id
          )
          select c.customer_id,
                 (count(*) - 1)::integer as frequency,
                 date_diff('day', f.first_date, max(c.date)) / (case when ${"unit"} = 'weeks' then 7.0 else 1.0 end) as recency,
                 date_diff('day', f.first_date, ${"end"}::date) / (case when ${"unit"} = 'weeks' then 7.0 else 1.0 end) as "T",
                 coalesce(avg(c.amount) filter (where c.date > f.first_date), 0) as monetary_value
          from calibration c join firsts f using (customer_id)
          group by c.customer_id, f.first_date
          order by c.customer_id`,
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
    const holdout = step(
      "holdout",
      { inputs: { daily, end: params.observationEnd, until: params.holdoutEnd } },
      sql<{ customer_id: string; purchases: number }>`select customer_id, count(*)::integer as purchases from ${"daily"}
          where date > ${"end"}::date and date <= ${"until"}::date group by customer_id`,
    );
    const evaluation = step(
      "evaluate",
      { inputs: { summary, holdout, models, end: params.observationEnd, until: params.holdoutEnd, unit: params.timeUnit } },
      async ({ summary, holdout, models, end, until, unit }, ctx) => {
        const purchases = new Map((await holdout.rows()).map((r) => [r.customer_id, r.purchases]));
        const rows = await summary.rows();
        const data = cltv.summaryOf(rows);
        const days = (until.getTime() - end.getTime()) / 86_400_000;
        const evaluation = cltv.evaluateHoldout(await cltv.bgNbdPredictor(models.bgNbd.params), data, {
          frequency: rows.map((r) => purchases.get(r.customer_id) ?? 0),
          duration: unit === "weeks" ? days / 7 : days,
        });
        mkdirSync("out", { recursive: true });
        writeFileSync(
          "out/holdout.svg",
          cltv.holdoutChartSvg(evaluation, "CDNOW: holdout purchases by calibration frequency, actual vs BG/NBD"),
        );
        ctx.log.info({ mae: evaluation.maePerCustomer }, "holdout evaluated");
        return {
          maePerCustomer: Math.round(evaluation.maePerCustomer * 1000) / 1000,
          actual: evaluation.actualTotal,
          predicted: Math.round(evaluation.predictedTotal),
          chart: "examples/cltv/out/holdout.svg",
        };
      },
    );

    // The model, with its holdout metrics, as the next version of "customer-value" (alias candidate).
    step("register", { inputs: { models, evaluation } }, async ({ models, evaluation }, ctx) => {
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
          artifact: models,
        },
        { alias: "candidate" },
      );
      return { model: "customer-value", version: registered.version, alias: "candidate" };
    });

    // Published for the models service: a new version, live atomically, in the `customer-value` storage.
    step("serve", { inputs: { scores }, output: customerValue }, sql`select * from ${"scores"}`);

    step("top", { inputs: { scores } }, async ({ scores }) =>
      (await scores.rows())
        .sort((a, b) => b.clv - a.clv)
        .slice(0, 10)
        .map((r) => ({ customer: r.customer_id, clv: Math.round(r.clv * 100) / 100, pAlive: Math.round(r.p_alive * 1000) / 1000 })),
    );

    step("report", { inputs: { summary } }, async ({ summary }, ctx) => {
      const rows = await summary.rows();
      const repeaters = rows.filter((r) => r.frequency > 0);
      const top = [...repeaters]
        .sort((a, b) => b.frequency * b.monetary_value - a.frequency * a.monetary_value)
        .slice(0, 5)
        .map((r) => ({ customer: r.customer_id, frequency: r.frequency, monetaryValue: Math.round(r.monetary_value * 100) / 100 }));
      const report = {
        customers: rows.length,
        repeatCustomers: repeaters.length,
        repeatShare: Math.round((repeaters.length / Math.max(1, rows.length)) * 1000) / 1000,
        meanFrequency: Math.round((rows.reduce((s, r) => s + r.frequency, 0) / Math.max(1, rows.length)) * 1000) / 1000,
        top,
      };
      ctx.log.info(report, "cohort report");
      return report;
    });
  },
);
