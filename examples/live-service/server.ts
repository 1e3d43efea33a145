// The checkout service: npx tsx examples/live-service/server.ts (see README.md beside this file).
import { createClient } from "strata/client";
import type customerValue from "../cltv/endpoints/customer-value/endpoint.js";
import { createCheckoutServer } from "./checkout.js";

const apiKey = process.env.STRATA_KEY;
if (!apiKey) {
  process.stderr.write("STRATA_KEY is not set: create a key with `node bin/strata.js keys create checkout --project examples/cltv`\n");
  process.exit(2);
}

// The checkout waits at most 250 ms for a score, then shows the default offer: a page never waits
// on the models service. (No retries: a second attempt would double that wait.)
const models = createClient<typeof customerValue>({
  url: process.env.STRATA_URL ?? "http://127.0.0.1:8080",
  apiKey,
  timeoutMs: Number(process.env.STRATA_TIMEOUT_MS ?? 250),
});

const port = Number(process.env.PORT ?? 3000);
const server = createCheckoutServer(models);
server.listen(port, "127.0.0.1", () => {
  process.stderr.write(`checkout on http://127.0.0.1:${port}, models service at ${models.url}\n`);
  process.stderr.write(`try: curl 'http://127.0.0.1:${port}/offer?customer=00001'\n`);
});

const stop = (): void => {
  server.close();
  server.closeIdleConnections();
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
