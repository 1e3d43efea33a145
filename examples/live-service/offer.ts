import type { EndpointOutput } from "strata/client";
import type customerValue from "../cltv/endpoints/customer-value/endpoint.js";

/** What the models service says of a customer: `POST /v1/endpoints/customer-value`. */
export type CustomerValue = EndpointOutput<typeof customerValue, "customer-value">;

/** What the checkout page offers. */
export interface Offer {
  readonly kind: "vip" | "free-shipping" | "win-back" | "standard";
  readonly freeShipping: boolean;
  readonly discountPercent: number;
  /** Why, for the log and the support team. */
  readonly reason: string;
}

/**
 * Thresholds on the CDNOW scores of the cltv example (12-month CLV in dollars): about the top 5%
 * of customers are worth 100 or more, the top 10% 50 or more; half have a CLV near 10.
 */
export const RULES = {
  vipClv: 100,
  freeShippingClv: 50,
  /** Below this probability of still being a customer, someone at the checkout is coming back. */
  winBackPAlive: 0.3,
} as const;

/** The offer when nothing is known of the customer: what everyone gets. */
export function defaultOffer(reason: string): Offer {
  return { kind: "standard", freeShipping: false, discountPercent: 0, reason };
}

/** The offer for a customer's value, or the default one when the customer has no score (`undefined`: a new customer). */
export function decideOffer(value: Pick<CustomerValue, "clv" | "pAlive"> | undefined): Offer {
  if (!value) return defaultOffer("no score: a new customer");
  const clv = value.clv.toFixed(2);
  if (value.clv >= RULES.vipClv) return { kind: "vip", freeShipping: true, discountPercent: 10, reason: `CLV ${clv} >= ${RULES.vipClv}` };
  if (value.clv >= RULES.freeShippingClv)
    return { kind: "free-shipping", freeShipping: true, discountPercent: 0, reason: `CLV ${clv} >= ${RULES.freeShippingClv}` };
  if (value.pAlive < RULES.winBackPAlive)
    return {
      kind: "win-back",
      freeShipping: false,
      discountPercent: 15,
      reason: `P(alive) ${value.pAlive.toFixed(2)} < ${RULES.winBackPAlive}: a lapsed customer is back`,
    };
  return defaultOffer(`CLV ${clv} < ${RULES.freeShippingClv}`);
}
