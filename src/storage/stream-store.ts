/**
 * Named streams of events that start pipelines (`POST /v1/streams/:name/events`), kept durably
 * until every pipeline triggered by the stream has taken them: an event posted while the control
 * plane is busy or down is started once it is back, never lost, never started twice.
 */
export interface StreamEvent {
  readonly stream: string;
  /** Order within the stream, from 1. */
  readonly seq: number;
  /** The poster's id (a repeated post with the same id is kept once), or a generated one. */
  readonly id: string;
  readonly at: number;
  readonly payload: unknown;
}

export interface StreamStore {
  /** Where the streams are, for people: a file, or a server and key prefix; never a secret. */
  readonly location: string;
  /** Why events could be lost though they were accepted (a server that keeps them only in memory), for the log at start; undefined when they cannot. */
  durabilityWarning(): Promise<string | undefined>;
  /** Appends an event; an id already in the stream is not appended again (`duplicate`). */
  append(stream: string, id: string, payload: unknown, at: number): Promise<{ event: StreamEvent; duplicate: boolean }>;
  /** Events after `afterSeq`, oldest first. */
  read(stream: string, afterSeq: number, limit: number): Promise<StreamEvent[]>;
  /** The last event a consumer (a pipeline) has taken; 0 before the first. */
  offset(stream: string, consumer: string): Promise<number>;
  /** Records that `consumer` has taken every event up to `seq`. */
  commit(stream: string, consumer: string, seq: number): Promise<void>;
  close(): Promise<void>;
}
