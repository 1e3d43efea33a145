import { implement } from "strata";
import { answer, type ScoreDoc } from "../score/lookup.js";
import scoreRedis from "./endpoint.js";

/** One key from the Redis kv storage `serving`. */
export default implement(scoreRedis, async ({ customerId }, ctx) => {
  const doc = await ctx.kv<ScoreDoc>("serving", "scores_redis").get(customerId);
  return doc ? answer(customerId, doc) : ctx.notFound(`no score for customer ${customerId}`);
});
