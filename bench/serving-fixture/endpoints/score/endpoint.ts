import { endpoint, z } from "strata";

/** A customer's published scores: one key in, one document out. */
export default endpoint("score", {
  description: "the published scores of one customer, from the SQLite kv storage",
  input: z.object({ customerId: z.string().min(1).max(64) }),
  output: z.object({
    customerId: z.string(),
    clv: z.number(),
    pAlive: z.number().min(0).max(1),
    expectedPurchases: z.number(),
    frequency: z.number().int(),
    recencyDays: z.number().int(),
  }),
  routing: { default: "lookup", timeoutMs: 200 },
});
