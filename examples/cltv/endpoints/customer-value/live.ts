import { isStrataError, implement, type EndpointContext, type ModelVersion } from "strata";
import { scoreCustomers, type ScoringModels, type SummaryRow } from "../../steps/models.js";
import customerValue from "./endpoint.js";

/**
 * The model promoted to `live` (strata models alias customer-value live <version>); until one is,
 * the newest `candidate` the pipeline registered.
 */
async function servingModel(ctx: EndpointContext): Promise<ModelVersion> {
  try {
    return await ctx.model("customer-value", "live");
  } catch (error) {
    if (isStrataError(error) && error.code === "MODEL_NOT_FOUND") return ctx.model("customer-value", "candidate");
    throw error;
  }
}

/** CLV computed now: the customer's RFM summary (kv dataset customer_facts) scored by the registered model, as the batch does it. */
export default implement(customerValue, async ({ customerId }, ctx) => {
  const [model, summary] = await Promise.all([servingModel(ctx), ctx.kv<SummaryRow>("kv", "customer_facts").get(customerId)]);
  if (!summary) return ctx.notFound(`customer ${customerId} has no purchase history`);
  const artifact = model.artifact as ScoringModels;
  const [score] = await scoreCustomers([summary], artifact, artifact.scoring);
  return {
    customerId,
    clv: score!.clv,
    pAlive: score!.p_alive,
    expectedPurchases: score!.expected_purchases,
    expectedSpend: score!.expected_spend,
  };
});
