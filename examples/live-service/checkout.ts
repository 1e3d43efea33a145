import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { StrataClientError, type StrataClient } from "strata/client";
import type customerValue from "../cltv/endpoints/customer-value/endpoint.js";
import { decideOffer, defaultOffer, type Offer } from "./offer.js";

/** The models service as the checkout sees it: one endpoint, typed from its declaration in the cltv project. */
export type ModelsClient = StrataClient<typeof customerValue>;

/** The answer of `GET /offer?customer=<id>`. */
export interface OfferAnswer {
  readonly customerId: string;
  readonly offer: Offer;
  /** `models`: decided from the customer's score; `default`: the models service could not say in time. */
  readonly source: "models" | "default";
  /** The implementation of customer-value that answered (precomputed, or live when it fell back). */
  readonly implementation?: string;
  /** Why the default offer was given: the error code (SERVICE_UNREACHABLE, CLIENT_TIMEOUT, ...). */
  readonly degraded?: string;
}

/**
 * The offer for one customer. The checkout never fails because of the models service: when it is
 * down, slow or broken, the customer gets the default offer and the log says why.
 */
export async function offerFor(models: ModelsClient, customerId: string, log: (line: string) => void): Promise<OfferAnswer> {
  try {
    const { output, implementation } = await models.invoke("customer-value", { customerId });
    return { customerId, offer: decideOffer(output), source: "models", implementation };
  } catch (error) {
    if (!(error instanceof StrataClientError)) throw error;
    if (error.code === "KEY_NOT_FOUND") return { customerId, offer: decideOffer(undefined), source: "models" };
    if (error.code === "INPUT_INVALID") throw error; // the caller's mistake: a 400, not a degraded answer
    log(JSON.stringify({ level: "warn", msg: "models service failed; default offer", code: error.code, status: error.status, customerId }));
    return { customerId, offer: defaultOffer(`models service: ${error.code}`), source: "default", degraded: error.code };
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** The checkout service (node:http): `GET /offer?customer=<id>` and `GET /healthz`. */
export function createCheckoutServer(
  models: ModelsClient,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Server {
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://checkout");
    if (request.method === "GET" && url.pathname === "/healthz") return send(response, 200, { status: "ok" });
    if (request.method !== "GET" || url.pathname !== "/offer") return send(response, 404, { error: "GET /offer?customer=<id>" });
    const customerId = url.searchParams.get("customer");
    if (!customerId) return send(response, 400, { error: "customer is missing: GET /offer?customer=<id>" });
    try {
      send(response, 200, await offerFor(models, customerId, log));
    } catch (error) {
      if (error instanceof StrataClientError && error.code === "INPUT_INVALID") return send(response, 400, { error: error.message });
      throw error;
    }
  };
  return createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log(JSON.stringify({ level: "error", msg: "request failed", err: String(error) }));
      if (!response.headersSent) send(response, 500, { error: "internal error" });
    });
  });
}
