import { implement } from "strata";
import score from "./endpoint.js";

/** A published document, as the pipeline wrote it. */
export interface ScoreDoc {
  customer_id: string;
  clv: number;
  p_alive: number;
  expected_purchases: number;
  frequency: number;
  recency_days: number;
}

export const answer = (customerId: string, doc: ScoreDoc) => ({
  customerId,
  clv: doc.clv,
  pAlive: doc.p_alive,
  expectedPurchases: doc.expected_purchases,
  frequency: doc.frequency,
  recencyDays: doc.recency_days,
});

/** One key from the SQLite kv storage `kv`. */
export default implement(score, async ({ customerId }, ctx) => {
  const doc = await ctx.kv<ScoreDoc>("kv", "scores").get(customerId);
  return doc ? answer(customerId, doc) : ctx.notFound(`no score for customer ${customerId}`);
});
