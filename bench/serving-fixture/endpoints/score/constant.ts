import { implement } from "strata";
import score from "./endpoint.js";
import { answer } from "./lookup.js";

const DOC = { customer_id: "", clv: 1455.87, p_alive: 0.2559, expected_purchases: 11.501, frequency: 37, recency_days: 118 };

/** The same kind of answer without reading a storage: what the service costs around an implementation. */
export default implement(score, ({ customerId }) => answer(customerId, DOC));
