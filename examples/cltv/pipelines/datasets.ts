import { dataset, t } from "strata";

/** The raw CDNOW log: whitespace-separated, CRLF, a header line, dates as YYYYMMDD. */
export const rawTransactions = dataset("raw_transactions", {
  storage: "lake",
  path: "CDNOW_master.txt",
  csv: { whitespace: true, header: true },
  schema: { customer_id: t.string(), date: t.date("%Y%m%d"), number_of_cds: t.int().min(0), dollar_value: t.double().min(0) },
});

/** Per customer: repeat purchases, recency and age in the time unit, mean repeat spend. */
export const customerSummary = dataset("customer_summary", {
  storage: "warehouse",
  key: "customer_id",
  description: "RFM summary over the calibration period (lifetimes' column names)",
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
