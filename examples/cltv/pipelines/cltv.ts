import { pipeline, sql, step, z } from "strata";

/**
 * Customer lifetime value, first stage: the raw CDNOW transaction log (69,659 purchases by 23,570
 * customers, 1997-01 to 1998-06) -> daily purchases -> the RFM summary that BG/NBD and Gamma-Gamma
 * fit on (frequency, recency, T, monetary value) -> a cohort report.
 *
 *   npx strata run cltv --project examples/cltv --param observationEnd=1997-09-30
 */
export default pipeline(
  "cltv",
  {
    description: "CDNOW transactions to the per-customer RFM summary and a cohort report",
    params: z.object({
      file: z.string().default("data/CDNOW_master.txt"),
      /** End of the calibration period; later purchases are left out of the summary. */
      observationEnd: z.coerce.date().default(new Date("1997-09-30")),
      timeUnit: z.enum(["days", "weeks"]).default("weeks"),
    }),
  },
  ({ params }) => {
    // The file is whitespace-separated with CRLF ends: read whole lines, split them in SQL.
    const transactions = step(
      "transactions",
      { description: "parse the raw log", retries: 1 },
      sql`select parts[1] as customer_id,
                 strptime(parts[2], '%Y%m%d')::date as date,
                 parts[3]::integer as cds,
                 parts[4]::double as amount
          from (select string_split_regex(trim(line), '\\s+') as parts
                from read_csv(${params.file}, columns = {'line': 'VARCHAR'}, delim = '\x01', header = true, quote = '', escape = ''))`,
    );

    // Several purchases on one day count as one transaction (the BTYD convention).
    const daily = step(
      "daily",
      { inputs: { transactions }, description: "one row per customer and purchase day" },
      sql`select customer_id, date, sum(amount) as amount, sum(cds) as cds
          from ${"transactions"} group by customer_id, date`,
    );

    const summary = step(
      "summary",
      { inputs: { daily, end: params.observationEnd, unit: params.timeUnit }, description: "RFM summary per customer" },
      sql`with calibration as (
            select * from ${"daily"} where date <= ${"end"}::date
          ), firsts as (
            select customer_id, min(date) as first_date from calibration group by customer_id
          )
          select c.customer_id,
                 count(*) - 1 as frequency,
                 date_diff('day', f.first_date, max(c.date)) / (case when ${"unit"} = 'weeks' then 7.0 else 1.0 end) as recency,
                 date_diff('day', f.first_date, ${"end"}::date) / (case when ${"unit"} = 'weeks' then 7.0 else 1.0 end) as "T",
                 coalesce(avg(c.amount) filter (where c.date > f.first_date), 0) as monetary_value
          from calibration c join firsts f using (customer_id)
          group by c.customer_id, f.first_date
          order by c.customer_id`,
    );

    step("report", { inputs: { summary } }, async ({ summary }, ctx) => {
      const rows = await summary.rows();
      const repeaters = rows.filter((r) => Number(r.frequency) > 0);
      const top = [...repeaters]
        .sort((a, b) => Number(b.frequency) * Number(b.monetary_value) - Number(a.frequency) * Number(a.monetary_value))
        .slice(0, 5)
        .map((r) => ({
          customer: r.customer_id,
          frequency: Number(r.frequency),
          monetaryValue: Math.round(Number(r.monetary_value) * 100) / 100,
        }));
      const report = {
        customers: rows.length,
        repeatCustomers: repeaters.length,
        repeatShare: Math.round((repeaters.length / Math.max(1, rows.length)) * 1000) / 1000,
        meanFrequency: Math.round((rows.reduce((s, r) => s + Number(r.frequency), 0) / Math.max(1, rows.length)) * 1000) / 1000,
        top,
      };
      ctx.log.info(report, "cohort report");
      return report;
    });
  },
);
