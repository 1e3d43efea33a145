import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { HookPayload } from "../../src/runtime/hook-payload.js";

export interface ReceivedHook {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: HookPayload;
}

export interface WebhookSink {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  readonly received: ReceivedHook[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback that keeps every webhook it gets, parsed. `answer` replies to
 * each (default: 200); it may also hold a response unanswered, as a hung endpoint would.
 */
export async function startWebhookSink(
  answer: (response: ServerResponse, hook: ReceivedHook) => void = (response) => response.end(),
): Promise<WebhookSink> {
  const received: ReceivedHook[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const hook = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: JSON.parse(body) as HookPayload };
      received.push(hook);
      answer(res, hook);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
