/**
 * `strata/client`: the typed client of the models service, for live services. It loads no
 * server code, no zod and no storage driver: only this folder and the error-code table.
 */
export { createClient, type StrataClient } from "./client.js";
export { StrataClientError, type ClientErrorCode } from "./client-error.js";
export type {
  AnyEndpoint,
  Answer,
  BatchItem,
  CallOptions,
  ClientOptions,
  EndpointContract,
  EndpointDescription,
  EndpointInput,
  EndpointName,
  EndpointOutput,
  EndpointTypeLike,
  JsonSchema,
} from "./types.js";
export type { ErrorCode } from "../errors/codes.js";
