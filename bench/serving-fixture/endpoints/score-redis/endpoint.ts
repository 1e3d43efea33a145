import { endpoint } from "strata";
import score from "../score/endpoint.js";

/** The same lookup, from the Redis kv storage `serving`. */
export default endpoint("score-redis", {
  description: "the published scores of one customer, from the Redis kv storage",
  input: score.input,
  output: score.output,
  routing: { default: "lookup", timeoutMs: 200 },
});
