/**
 * Events that start a pipeline, declared in its definition (`triggers: [...]`). Plain data: the
 * control plane (src/schedule/control-plane.ts) watches for them.
 */
export type EventTrigger = DatasetTrigger | StreamTrigger;

/** Runs when a dataset gets a new live version (written by any process). */
export interface DatasetTrigger {
  readonly kind: "dataset";
  readonly dataset: string;
  readonly params: (version: { dataset: string; version: number }) => Record<string, unknown>;
}

/** Runs for each event posted to a named stream (`POST /v1/streams/:name/events`). */
export interface StreamTrigger {
  readonly kind: "stream";
  readonly stream: string;
  readonly params: (event: { stream: string; id: string; payload: unknown }) => Record<string, unknown>;
}

const none = (): Record<string, unknown> => ({});

/**
 * `triggers: [on.dataset("transactions"), on.stream("orders", { params: (e) => ({ orderId: e.payload.id }) })]`.
 * `params` maps the event to the run's params (validated like any others); none by default.
 */
export const on = {
  dataset(dataset: string, options: { params?: DatasetTrigger["params"] } = {}): DatasetTrigger {
    return { kind: "dataset", dataset, params: options.params ?? none };
  },
  stream(stream: string, options: { params?: StreamTrigger["params"] } = {}): StreamTrigger {
    return { kind: "stream", stream, params: options.params ?? none };
  },
};

/** What the control plane does when a pipeline is triggered while a run of it is in flight. */
export type OverlapPolicy = "allow" | "skip" | "queue";
