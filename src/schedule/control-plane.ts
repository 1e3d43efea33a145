import type { Logger } from "pino";
import type { Clock } from "../clock/clock.js";
import { describeError, StrataError } from "../errors/strata-error.js";
import type { AnyPipeline } from "../pipeline/pipeline.js";
import { newId } from "../runtime/ids.js";
import type { Workspace } from "../runtime/workspace.js";
import type { DatasetVersion } from "../storage/catalog-store.js";
import type { RunRecord, Trigger } from "../storage/run-store.js";
import type { StreamEvent, StreamStore } from "../storage/stream-store.js";
import { dueFireTimes, nextFireTime, type CronSchedule } from "./cron.js";
import type { Executor, Launch } from "./executor.js";
import { OverdueHooks } from "./overdue-hooks.js";
import type { DatasetTrigger, PartitionTrigger, StreamTrigger } from "./triggers.js";

export interface ControlPlaneOptions {
  readonly pipelines: ReadonlyMap<string, AnyPipeline>;
  readonly workspace: Workspace;
  readonly streams: StreamStore;
  readonly executor: Executor;
  readonly clock: Clock;
  readonly log: Logger;
  /** How often datasets and streams are looked at (default 1 s); schedules wake on time. */
  readonly pollMs?: number;
}

/** How many recent runs of a pipeline are read to find where a trigger left off. */
const HISTORY = 500;
const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

interface CronEntry {
  readonly pipeline: AnyPipeline;
  readonly schedule: CronSchedule;
  /** `cron:<pipeline>#<index>`: the prefix of its runs' trigger ids. */
  readonly key: string;
  /** Fire times up to here are done. */
  cursor: number;
}

interface DatasetEntry {
  readonly pipeline: AnyPipeline;
  readonly trigger: DatasetTrigger;
  lastVersion: number;
}

interface PartitionEntry {
  readonly pipeline: AnyPipeline;
  readonly trigger: PartitionTrigger;
  /** Versions up to here are done: handled, failed, or not a partition write. */
  floor: number;
  /** Versions above `floor` already handled (a version below them was still being written). */
  readonly handled: Set<number>;
}

/**
 * The control plane's triggers: cron schedules (with time zones and catch-up), new dataset
 * versions, landed partitions and stream events, each turned into a run through the executor.
 * Where each trigger left off is read back from the runs it started, so a restart neither repeats
 * nor loses one. `tick()` does one pass; `start()` keeps ticking on timers (tests call `tick` with
 * a TestClock).
 */
export class ControlPlane {
  /** Hooks of ended runs that nobody delivered: swept at every pass, delivered in the background. */
  readonly hooks: OverdueHooks;
  readonly #o: ControlPlaneOptions;
  #crons: CronEntry[] = [];
  #datasets: DatasetEntry[] = [];
  #partitions: PartitionEntry[] = [];
  #streams: { pipeline: AnyPipeline; trigger: StreamTrigger }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ControlPlaneOptions) {
    this.#o = options;
    this.hooks = new OverdueHooks({ pipelines: options.pipelines, store: options.workspace.store, clock: options.clock, log: options.log });
  }

  /** Reads where every trigger left off; then runs what was missed (per catch-up policy) at the first tick. */
  async load(): Promise<void> {
    const now = this.#o.clock.now();
    for (const pipeline of this.#o.pipelines.values()) {
      const recent = pipeline.schedules.length || pipeline.triggers.length ? await this.#recentRuns(pipeline.name) : [];
      pipeline.schedules.forEach((schedule, i) => {
        const key = `cron:${pipeline.name}#${i}`;
        this.#crons.push({ pipeline, schedule, key, cursor: lastFire(recent, key) ?? now });
      });
      for (const trigger of pipeline.triggers) {
        if (trigger.kind === "stream") this.#streams.push({ pipeline, trigger });
        else if (trigger.partitions) {
          const seen = lastVersionOf(recent, `partition:${trigger.dataset}@v`);
          const floor = seen ?? (await this.#o.workspace.catalog.liveVersion(trigger.dataset))?.version ?? 0;
          this.#partitions.push({ pipeline, trigger, floor, handled: new Set() });
        } else {
          const seen = lastVersionOf(recent, `dataset:${trigger.dataset}@v`);
          const live = seen ?? (await this.#o.workspace.catalog.liveVersion(trigger.dataset))?.version ?? 0;
          this.#datasets.push({ pipeline, trigger, lastVersion: live });
        }
      }
    }
  }

  /** What it watches, for `strata server` to print. */
  describe(): { schedules: { pipeline: string; expression: string; timezone: string; next: number | null }[]; triggers: string[] } {
    return {
      schedules: this.#crons.map((c) => ({
        pipeline: c.pipeline.name,
        expression: c.schedule.expression,
        timezone: c.schedule.timezone,
        next: nextFireTime(c.schedule, c.cursor),
      })),
      triggers: [
        ...this.#datasets.map((d) => `${d.pipeline.name} <- dataset ${d.trigger.dataset}`),
        ...this.#partitions.map((p) => `${p.pipeline.name} <- partitions of ${p.trigger.dataset}`),
        ...this.#streams.map((s) => `${s.pipeline.name} <- stream ${s.trigger.stream}`),
      ],
    };
  }

  /** One pass over every trigger. Concurrent calls share the pass in progress. */
  tick(): Promise<void> {
    this.#ticking ??= this.#pass().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  /** Ticks on timers: at each schedule's next fire time, and every `pollMs` for datasets and streams. */
  start(): void {
    const poll = this.#o.pollMs ?? 1000;
    const loop = (): void => {
      if (this.#stopped) return;
      void this.tick()
        .catch((error: unknown) => this.#o.log.error({ err: error }, "trigger pass failed"))
        .finally(() => {
          if (this.#stopped) return;
          const now = this.#o.clock.now();
          const nextCron = Math.min(...this.#crons.map((c) => nextFireTime(c.schedule, c.cursor) ?? Infinity));
          this.#timer = setTimeout(loop, Math.max(0, Math.min(poll, nextCron - now)));
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    // Deliveries under way are not waited for (a hook may take minutes): one cut short is
    // delivered again by the next sweep once its claim runs out.
  }

  /** Starts a run by hand or through the API. */
  trigger(pipelineName: string, params: Record<string, unknown>, kind: "api" | "manual" = "api"): Promise<Launch> {
    const pipeline = this.pipeline(pipelineName);
    return this.#o.executor.launch({ pipeline, params, trigger: { kind, id: newId("t", this.#o.clock.now()) } });
  }

  pipeline(name: string): AnyPipeline {
    const pipeline = this.#o.pipelines.get(name);
    if (pipeline) return pipeline;
    throw new StrataError(
      "PIPELINE_NOT_FOUND",
      `no pipeline "${name}" (there are: ${[...this.#o.pipelines.keys()].join(", ") || "none"})`,
      {
        details: { pipeline: name, pipelines: [...this.#o.pipelines.keys()] },
      },
    );
  }

  /** Keeps an event durably, then starts the pipelines it triggers. */
  async postEvent(stream: string, id: string | undefined, payload: unknown): Promise<{ event: StreamEvent; duplicate: boolean }> {
    if (!STREAM_NAME.test(stream))
      throw new StrataError("STREAM_INVALID", `"${stream}" is not a stream name (letters, digits, ".", "_", "-"; at most 128)`, {
        details: { stream },
      });
    const kept = await this.#o.streams.append(stream, id ?? newId("e", this.#o.clock.now()), payload, this.#o.clock.now());
    // A pass already under way may have read the stream before this event: wait, then pass again.
    await this.#ticking?.catch(() => undefined);
    await this.tick();
    return kept;
  }

  async #pass(): Promise<void> {
    const now = this.#o.clock.now();
    for (const entry of this.#crons) {
      for (const at of dueFireTimes(entry.schedule, entry.cursor, now)) {
        await this.#launch(
          entry.pipeline,
          { ...entry.schedule.params },
          { kind: "cron", id: `${entry.key}@${new Date(at).toISOString()}` },
        );
      }
      entry.cursor = Math.max(entry.cursor, now);
    }
    for (const entry of this.#datasets) {
      const live = await this.#o.workspace.catalog.liveVersion(entry.trigger.dataset);
      if (!live || live.version <= entry.lastVersion) continue;
      entry.lastVersion = live.version;
      const params = entry.trigger.params({ dataset: live.dataset, version: live.version });
      await this.#launch(entry.pipeline, params, { kind: "event", id: `dataset:${live.dataset}@v${live.version}` });
    }
    for (const entry of this.#partitions) await this.#partitionsLanded(entry);
    for (const { pipeline, trigger } of this.#streams) await this.#consume(pipeline, trigger);
    // Not awaited: a slow alert must not hold up the triggers.
    if (!this.#stopped)
      void this.hooks.sweep().catch((error: unknown) => this.#o.log.error({ err: error }, "overdue hooks could not be read"));
  }

  async #consume(pipeline: AnyPipeline, trigger: StreamTrigger): Promise<void> {
    const { streams } = this.#o;
    for (;;) {
      const events = await streams.read(trigger.stream, await streams.offset(trigger.stream, pipeline.name), 100);
      if (!events.length) return;
      // A run already started for an event (a crash before the commit) is not started twice.
      const started = new Set((await this.#recentRuns(pipeline.name)).map((r) => r.trigger.id));
      for (const event of events) {
        const id = `stream:${event.stream}#${event.seq}`;
        if (!started.has(id)) {
          let params: Record<string, unknown>;
          try {
            params = trigger.params({ stream: event.stream, id: event.id, payload: event.payload });
          } catch (error) {
            this.#o.log.error(
              { err: error, pipeline: pipeline.name, event: id },
              "the stream trigger's params function failed; event skipped",
            );
            await streams.commit(trigger.stream, pipeline.name, event.seq);
            continue;
          }
          await this.#launch(pipeline, params, { kind: "event", id });
        }
        await streams.commit(trigger.stream, pipeline.name, event.seq);
      }
    }
  }

  /**
   * One run per version that replaced a partition and landed since the last look, oldest first:
   * every one of them, not only the live one, so two partitions landing between two looks start
   * two runs. A version still being written is taken at a later look, once it has landed.
   */
  async #partitionsLanded(entry: PartitionEntry): Promise<void> {
    const versions = await this.#o.workspace.catalog.versions(entry.trigger.dataset);
    const live = versions.find((v) => v.live);
    for (const v of versions) {
      if (v.version <= entry.floor || entry.handled.has(v.version) || v.partition === null || !landed(v, live)) continue;
      entry.handled.add(v.version);
      const id = `partition:${v.dataset}@v${v.version}`;
      let params: Record<string, unknown>;
      try {
        params = entry.trigger.params({ dataset: v.dataset, version: v.version, partition: v.partition });
      } catch (error) {
        this.#o.log.error(
          { err: error, pipeline: entry.pipeline.name, event: id },
          "the partition trigger's params function failed; skipped",
        );
        continue;
      }
      await this.#launch(entry.pipeline, params, { kind: "event", id });
    }
    // Move the floor over the versions that are settled, so `handled` stays small.
    for (const v of versions) {
      if (v.version <= entry.floor) continue;
      const settled = entry.handled.has(v.version) || v.status === "failed" || (v.partition === null && v.status !== "writing");
      if (!settled) break;
      entry.floor = v.version;
      entry.handled.delete(v.version);
    }
  }

  /** A trigger that cannot start (bad params) is logged and dropped: it must not stop the others. */
  async #launch(pipeline: AnyPipeline, params: Record<string, unknown>, trigger: Trigger): Promise<void> {
    try {
      const launch = await this.#o.executor.launch({ pipeline, params, trigger });
      this.#o.log.info({ pipeline: pipeline.name, trigger, status: launch.status }, `trigger ${launch.status}`);
    } catch (error) {
      const { code, message } = describeError(error);
      this.#o.log.error({ pipeline: pipeline.name, trigger, code, message }, "trigger could not start a run");
    }
  }

  #recentRuns(pipeline: string): Promise<RunRecord[]> {
    return this.#o.workspace.store.listRuns({ pipeline, limit: HISTORY });
  }
}

/** The fire time of the latest run a schedule started (runs come newest first). */
function lastFire(runs: readonly RunRecord[], key: string): number | undefined {
  const run = runs.find((r) => r.trigger.kind === "cron" && r.trigger.id.startsWith(`${key}@`));
  return run ? Date.parse(run.trigger.id.slice(key.length + 1)) : undefined;
}

/** The highest version among the runs a dataset or partition trigger started (trigger ids `<prefix><version>`). */
function lastVersionOf(runs: readonly RunRecord[], prefix: string): number | undefined {
  const versions = runs
    .filter((r) => r.trigger.kind === "event" && r.trigger.id.startsWith(prefix))
    .map((r) => Number(r.trigger.id.slice(prefix.length)))
    .filter(Number.isInteger);
  return versions.length ? Math.max(...versions) : undefined;
}

/**
 * Whether a version has gone live (it may be superseded since). Between its write and its flip a
 * version is "ready" but newer than the live one and finished after it; any other ready version
 * went live before (in version order, or out of order when concurrent writers flipped it first).
 */
function landed(v: DatasetVersion, live: DatasetVersion | undefined): boolean {
  if (v.status === "dropped" || v.live) return true;
  if (v.status !== "ready" || !live) return false;
  return v.version < live.version || (v.finishedAt !== null && live.finishedAt !== null && v.finishedAt < live.finishedAt);
}
