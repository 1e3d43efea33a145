import { implement } from "strata";
import customerValue from "./endpoint.js";

/** A row of the customer_value dataset, as the `serve` step published it. */
interface Score {
  customer_id: string;
  clv: number;
  p_alive: number;
  expected_purchases: number;
  expected_spend: number;
}

/** The published score: one key-value lookup in the live version of the customer-value storage. */
export default implement(customerValue, async ({ customerId }, ctx) => {
  const score = await ctx.kv<Score>("customer-value").get(customerId);
  if (!score) return ctx.notFound(`no published score for customer ${customerId}`);
  return {
    customerId,
    clv: score.clv,
    pAlive: score.p_alive,
    expectedPurchases: score.expected_purchases,
    expectedSpend: score.expected_spend,
  };
});
