/**
 * Events that start a pipeline, declared in its definition (`triggers: [...]`). Plain data: the
 * control plane (src/schedule/control-plane.ts) watches for them.
 */
export type EventTrigger = DatasetTrigger | PartitionTrigger | StreamTrigger;

/** Runs when a dataset gets a new live version (written by any process). */
export interface DatasetTrigger {
  readonly kind: "dataset";
  readonly dataset: string;
  /** Absent (or false) here; true on a `PartitionTrigger`, which watches the same dataset partition by partition. */
  readonly partitions?: false;
  readonly params: (version: { dataset: string; version: number }) => Record<string, unknown>;
}

/**
 * Runs once for each version of a partitioned dataset that replaced a partition (a step with
 * `partition:` wrote it), every one of them: two partitions landing between two looks start two
 * runs. A dataset trigger (kind "dataset") with `partitions: true`, so that code listing triggers
 * by dataset or stream shows it under its dataset.
 */
export interface PartitionTrigger {
  readonly kind: "dataset";
  readonly dataset: string;
  readonly partitions: true;
  readonly params: (landed: { dataset: string; version: number; partition: string }) => Record<string, unknown>;
}

/** Runs for each event posted to a named stream (`POST /v1/streams/:name/events`). */
export interface StreamTrigger {
  readonly kind: "stream";
  readonly stream: string;
  readonly params: (event: { stream: string; id: string; payload: unknown }) => Record<string, unknown>;
}

const none = (): Record<string, unknown> => ({});

/**
 * `triggers: [on.dataset("transactions"), on.partition("daily_sales", { params: (p) => ({ day: p.partition }) }),
 * on.stream("orders", { params: (e) => ({ orderId: e.payload.id }) })]`.
 * `params` maps the event to the run's params (validated like any others); none by default.
 */
export const on = {
  dataset(dataset: string, options: { params?: DatasetTrigger["params"] } = {}): DatasetTrigger {
    return { kind: "dataset", dataset, params: options.params ?? none };
  },
  partition(dataset: string, options: { params?: PartitionTrigger["params"] } = {}): PartitionTrigger {
    return { kind: "dataset", dataset, partitions: true, params: options.params ?? none };
  },
  stream(stream: string, options: { params?: StreamTrigger["params"] } = {}): StreamTrigger {
    return { kind: "stream", stream, params: options.params ?? none };
  },
};

/** What the control plane does when a pipeline is triggered while a run of it is in flight. */
export type OverlapPolicy = "allow" | "skip" | "queue";
