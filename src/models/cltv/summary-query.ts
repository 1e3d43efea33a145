import { StrataError } from "../../errors/strata-error.js";

/**
 * What `summaryQuery` reads and how it measures time. The semantics follow lifetimes'
 * `summary_data_from_transaction_data` (with `freq="D"`) and `calibration_and_holdout_data`.
 */
export interface SummaryQueryOptions {
  /** Columns of the transaction table. */
  readonly customer: string;
  /** A DATE, a TIMESTAMP (the time of day is dropped) or ISO 'YYYY-MM-DD' text. */
  readonly date: string;
  /** The spend of a transaction; gives `monetary_value` (and `monetary_value_holdout`). */
  readonly amount?: string;
  /** Last day of the calibration (observation) period, inclusive: 'YYYY-MM-DD'. */
  readonly observationEnd: string;
  /**
   * Time unit of recency, T and duration_holdout. Purchases are always grouped by day; the unit only
   * scales the day counts: a week is 7 days and a month is a fixed 30 days (as lifetimes'
   * `customer_lifetime_value` converts days to months), not a calendar month.
   */
  readonly unit: "days" | "weeks" | "months";
  /**
   * End of a holdout period after observationEnd, inclusive: adds frequency_holdout (purchase days in
   * the holdout), monetary_value_holdout (when `amount` is given) and duration_holdout.
   */
  readonly holdoutEnd?: string;
}

/** Days per unit. */
const UNIT_DAYS: Readonly<Record<SummaryQueryOptions["unit"], number>> = { days: 1, weeks: 7, months: 30 };

const quote = (ident: string): string => `"${ident.replace(/"/g, '""')}"`;

function invalid(message: string, details: Record<string, unknown>): StrataError {
  return new StrataError("MODEL_INPUT_INVALID", message, { details });
}

/** A 'YYYY-MM-DD' that names a real day, as a DuckDB DATE literal. */
function dateLiteral(name: string, text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const day = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!day || day.toISOString().slice(0, 10) !== text) {
    throw invalid(`${name} must be a day written 'YYYY-MM-DD', got ${JSON.stringify(text)}`, { [name]: text });
  }
  return `DATE '${text}'`;
}

/**
 * SQL selecting customer_id, frequency, recency, "T", monetary_value (when amount is given)
 * [, frequency_holdout, monetary_value_holdout, duration_holdout] from `table` (a qualified table
 * name or a subquery in parentheses), one row per customer, ordered by customer_id.
 *
 * - Transactions are grouped by (customer, day): several purchases on one day are one purchase whose
 *   amount is their sum (a NULL amount counts as 0). Rows with a NULL customer or date are ignored.
 * - Only customers whose first purchase is on or before `observationEnd` are included.
 * - frequency = calibration purchase days − 1; recency = last − first calibration purchase day;
 *   T = observationEnd − first purchase day; times in `unit`, not rounded.
 * - monetary_value = mean daily amount of the repeat days (the first day excluded), 0 when frequency = 0.
 * - With `holdoutEnd`: frequency_holdout = purchase days in (observationEnd, holdoutEnd],
 *   monetary_value_holdout = their mean daily amount (0 when none), duration_holdout =
 *   holdoutEnd − observationEnd in `unit`. Transactions after the last end are ignored.
 *
 * Plain DuckDB SQL, built from the options only: column names are quoted, dates are checked.
 */
export function summaryQuery(table: string, options: SummaryQueryOptions): string {
  const { customer, date, amount, unit, holdoutEnd } = options;
  const perUnit = UNIT_DAYS[unit] as number | undefined;
  if (perUnit === undefined) throw invalid(`unit must be "days", "weeks" or "months", got ${JSON.stringify(unit)}`, { unit });
  const calEnd = dateLiteral("observationEnd", options.observationEnd);
  const holdEnd = holdoutEnd === undefined ? undefined : dateLiteral("holdoutEnd", holdoutEnd);
  if (holdoutEnd !== undefined && holdoutEnd <= options.observationEnd) {
    throw invalid(`holdoutEnd (${holdoutEnd}) must be after observationEnd (${options.observationEnd})`, {
      observationEnd: options.observationEnd,
      holdoutEnd,
    });
  }
  const money = amount !== undefined;
  const inUnit = (days: string): string => `CAST(${days} AS DOUBLE) / ${perUnit}`;
  const day = `CAST(${quote(date)} AS DATE)`;

  const holdoutColumns = holdEnd
    ? [
        `count(*) FILTER (WHERE day > ${calEnd}) AS frequency_holdout`,
        ...(money ? [`coalesce(avg(amount) FILTER (WHERE day > ${calEnd}), 0) AS monetary_value_holdout`] : []),
        `${inUnit(`date_diff('day', ${calEnd}, ${holdEnd})`)} AS duration_holdout`,
      ]
    : [];
  const columns = [
    "customer_id",
    `count(*) FILTER (WHERE day <= ${calEnd}) - 1 AS frequency`,
    `${inUnit(`date_diff('day', first_day, max(day) FILTER (WHERE day <= ${calEnd}))`)} AS recency`,
    `${inUnit(`date_diff('day', first_day, ${calEnd})`)} AS "T"`,
    ...(money ? [`coalesce(avg(amount) FILTER (WHERE day > first_day AND day <= ${calEnd}), 0) AS monetary_value`] : []),
    ...holdoutColumns,
  ];

  return `WITH purchase_days AS (
  SELECT ${quote(customer)} AS customer_id, ${day} AS day${money ? `, coalesce(sum(${quote(amount)}), 0) AS amount` : ""}
  FROM ${table} AS transactions
  WHERE ${quote(customer)} IS NOT NULL AND ${day} <= ${holdEnd ?? calEnd}
  GROUP BY ALL
),
dated AS (
  SELECT *, min(day) OVER (PARTITION BY customer_id) AS first_day FROM purchase_days
)
SELECT
  ${columns.join(",\n  ")}
FROM dated
WHERE first_day <= ${calEnd}
GROUP BY customer_id, first_day
ORDER BY customer_id`;
}
