import { sql } from "strata";

/**
 * Transactions -> one row per customer and purchase day (the BTYD convention: several purchases on
 * one day are one transaction), then, as the params ask: days whose spend is above the `q`
 * quantile of all days left out (q = 1 keeps them all), and only customers with at least `n`
 * purchase days in the 365 days up to `end` kept (n = 0 keeps all).
 *
 * Inputs: `transactions` (customer_id, date, number_of_cds, dollar_value), `end`, `q`, `n`.
 */
export const dailyPurchases = sql<{ customer_id: string; date: Date; amount: number; cds: number }>`with days as (
    select customer_id, date, sum(dollar_value) as amount, sum(number_of_cds) as cds from ${"transactions"} group by customer_id, date
  ), kept as (
    select * from days where ${"q"} >= 1 or amount <= (select quantile_cont(amount, ${"q"}) from days)
  ), active as (
    select customer_id from kept
    where date > ${"end"}::date - interval 365 day and date <= ${"end"}::date
    group by customer_id having count(*) >= ${"n"}
  )
  select * from kept where ${"n"} = 0 or customer_id in (select customer_id from active)`;

/**
 * Daily purchases -> the RFM summary over the calibration period (up to `end`), in lifetimes'
 * terms: frequency = repeat purchase days, recency = first to last purchase, T = first purchase
 * to `end` (both in `unit`: 'days' or 'weeks'), monetary_value = mean spend of the repeat days.
 *
 * Inputs: `daily`, `end`, `unit`.
 */
export const calibrationSummary = sql`with calibration as (
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
  order by c.customer_id`;

/** Repeat purchase days per customer in the holdout period (after `end`, up to `until`). Inputs: `daily`, `end`, `until`. */
export const holdoutPurchases = sql<{ customer_id: string; purchases: number }>`select customer_id, count(*)::integer as purchases
  from ${"daily"} where date > ${"end"}::date and date <= ${"until"}::date group by customer_id`;
