import { dataset, notNull, range, rowCount, rule, t, unique } from "strata";

const transactionColumns = {
  customer_id: t.string().pattern("[0-9]{5}"),
  date: t.date("%Y%m%d"),
  number_of_cds: t.int().min(0),
  dollar_value: t.double().min(0),
};

/**
 * The raw CDNOW log: whitespace-separated, CRLF, a header line, dates as YYYYMMDD. Each record is
 * checked when it is read: a record that fails goes to the quarantine with its line and reasons
 * (`strata quarantine list raw_transactions`) instead of failing the run, unless more than 1 % do
 * (the file's format has then probably changed).
 */
export const rawTransactions = dataset("raw_transactions", {
  storage: "lake",
  path: "CDNOW_master.txt",
  csv: { whitespace: true, header: true },
  schema: transactionColumns,
  rules: [rule.sql("value_needs_cds", "number_of_cds > 0 or dollar_value = 0", "a purchase with a value must have at least one CD")],
  quarantine: { maxRate: 0.01 },
});

/** The transactions that passed their checks: what the rest of the pipeline reads. */
export const transactions = dataset("transactions", {
  storage: "warehouse",
  schema: transactionColumns,
  expectations: [
    rowCount({ min: 1, vsPrevious: { min: 0.9 } }),
    // Zero-value purchases are real in CDNOW (promotions): worth knowing, not worth stopping for.
    range("dollar_value", { min: 0.01 }, { severity: "warn", mostly: 0.99 }),
  ],
});

/** Per customer: repeat purchases, recency and age in the time unit, mean repeat spend. */
export const customerSummary = dataset("customer_summary", {
  storage: "warehouse",
  key: "customer_id",
  description: "RFM summary over the calibration period (lifetimes' column names)",
  expectations: [unique("customer_id"), rowCount({ min: 1 })],
  schema: {
    customer_id: t.string(),
    frequency: t.int().min(0),
    recency: t.double().min(0),
    T: t.double().min(0),
    monetary_value: t.double().min(0),
  },
});

/** Revenue per acquisition cohort and month, computed by a Python step with pandas. */
export const cohortRevenue = dataset("cohort_revenue", {
  storage: "warehouse",
  schema: { cohort: t.date(), month: t.date(), customers: t.int().min(0), revenue: t.double().min(0) },
});

/** The summary published for lookups by customer id (what the models service will serve). */
export const customerFacts = dataset("customer_facts", {
  storage: "kv",
  key: "customer_id",
  schema: { customer_id: t.string(), frequency: t.int(), recency: t.double(), T: t.double(), monetary_value: t.double() },
});

/** CLV per customer: BG/NBD purchases and P(alive), Gamma-Gamma spend, discounted over the horizon. */
export const clvScores = dataset("clv_scores", {
  storage: "warehouse",
  key: "customer_id",
  description: "expected purchases and P(alive) (BG/NBD), expected spend (Gamma-Gamma), CLV over the horizon",
  schema: {
    customer_id: t.string(),
    expected_purchases: t.double(),
    p_alive: t.double(),
    expected_spend: t.double(),
    clv: t.double(),
  },
  expectations: [
    notNull("clv"),
    range("clv", { min: 0 }),
    range("p_alive", { min: 0, max: 1 }),
    rowCount({ min: 1, vsPrevious: { min: 0.9 } }),
  ],
});

/** The same, published for lookups by customer id in the `customer-value` storage. */
export const customerValue = dataset("customer_value", {
  storage: "customer-value",
  key: "customer_id",
  schema: { customer_id: t.string(), expected_purchases: t.double(), p_alive: t.double(), expected_spend: t.double(), clv: t.double() },
});
