import { endpoint, z } from "strata";

/**
 * A customer's lifetime value, for live services (a checkout, a CRM screen).
 *
 *   precomputed  the score the last `cltv` run published to the customer-value storage (a lookup)
 *   live         computed now from the registered model and the customer's summary
 *
 * `precomputed` answers; if it fails (its storage down, say), `live` does. To compare the two on
 * real traffic without changing any answer, add `shadow: "live"` to the routing and read
 * GET /v1/endpoints/customer-value/shadow.
 */
export default endpoint("customer-value", {
  description: "expected purchases, P(alive), expected spend and CLV of one customer (BG/NBD + Gamma-Gamma)",
  input: z.object({ customerId: z.string().regex(/^[0-9]{5}$/, "a CDNOW customer id: five digits") }),
  output: z.object({
    customerId: z.string(),
    clv: z.number(),
    pAlive: z.number(),
    expectedPurchases: z.number(),
    expectedSpend: z.number(),
  }),
  routing: { default: "precomputed", fallback: "live", timeoutMs: 250 },
});
