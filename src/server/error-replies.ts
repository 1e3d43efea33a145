import type { FastifyInstance, FastifyReply } from "fastify";
import type { Logger } from "pino";
import { isStrataError, StrataError } from "../errors/strata-error.js";
import type { ErrorCode } from "../errors/codes.js";

/** The body of every error answer: a stable code, a message, details for machines; never a stack. */
export function errorBody(error: StrataError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message, details: error.details } });
}

/**
 * One way for a service's Fastify routes to answer errors: a StrataError with its status; a
 * request Fastify refused (bad JSON, too large) as 400 REQUEST_INVALID; anything else logged and
 * answered as `unexpected` (the stack stays in the log); an unknown route as REQUEST_INVALID.
 */
export function answerErrors(
  app: FastifyInstance,
  options: { log: Logger; unexpected: { code: ErrorCode; message: string }; routesHint?: string },
): void {
  const { log, unexpected, routesHint } = options;
  const fail = (reply: FastifyReply, error: StrataError): FastifyReply =>
    reply.code(error.status).type("application/json").send(errorBody(error));
  app.setErrorHandler((thrown, _request, reply) => {
    if (isStrataError(thrown)) return fail(reply, thrown);
    const err = thrown as { statusCode?: number; message?: string };
    if (err.statusCode !== undefined && err.statusCode < 500)
      return fail(reply, new StrataError("REQUEST_INVALID", `the request is not valid: ${err.message ?? "bad request"}`));
    log.error({ err: thrown }, "request failed");
    return fail(reply, new StrataError(unexpected.code, unexpected.message));
  });
  app.setNotFoundHandler((request, reply) =>
    fail(
      reply,
      new StrataError("REQUEST_INVALID", `no route ${request.method} ${request.url.split("?")[0]}${routesHint ? ` (${routesHint})` : ""}`, {
        details: { method: request.method, url: request.url },
      }),
    ),
  );
}
