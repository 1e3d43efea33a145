import { join } from "node:path";
import { RedisConnection } from "./redis/connection.js";
import { RedisStreamStore } from "./redis/stream-store.js";
import { SqliteStreamStore } from "./sqlite/stream-store.js";
import type { StreamStore } from "./stream-store.js";

/** Where the control plane keeps streams. The URL (with its password) comes from the environment, never from a file. */
export type StreamChoice =
  | { readonly technology: "sqlite" }
  | {
      readonly technology: "redis";
      /** redis://[:password@]host:port */
      readonly url: string;
      /** host:port, for messages. */
      readonly endpoint: string;
      readonly prefix: string;
    };

/**
 * Opens the stream store chosen: SQLite's `streams.sqlite` in the state folder, or Redis Streams.
 * A Redis server that is down does not fail this: appends and reads fail fast with
 * STORAGE_UNAVAILABLE meanwhile, and work again once it is back.
 */
export function openStreamStore(choice: StreamChoice, stateDir: string): StreamStore {
  if (choice.technology === "sqlite") return new SqliteStreamStore(join(stateDir, "streams.sqlite"));
  return new RedisStreamStore(RedisConnection.open(choice.url, "streams", choice.endpoint, "the stream store"), choice.prefix);
}
