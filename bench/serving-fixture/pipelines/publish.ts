import { dataset, pipeline, sql, step, t, z } from "strata";

/** The columns of a published score document (about 130 bytes of JSON). */
const schema = {
  customer_id: t.string(),
  clv: t.double(),
  p_alive: t.double(),
  expected_purchases: t.double(),
  frequency: t.int(),
  recency_days: t.int(),
};

/** The documents the endpoints read: in the SQLite kv storage `kv` (built in), and in the Redis kv storage `serving`. */
export const scores = dataset("scores", { storage: "kv", key: "customer_id", schema });
export const scoresRedis = dataset("scores_redis", { storage: "serving", key: "customer_id", schema });

const params = z.object({ n: z.number().int().default(100_000) });

/** `n` customers `C000000`, `C000001`... with scores derived from hash(i): every run publishes the same documents. */
const rows = sql`
  select 'C' || lpad(i::varchar, 6, '0') as customer_id,
         (hash(i) % 200000)::double / 100 as clv,
         (hash(i + 1) % 10000)::double / 10000 as p_alive,
         (hash(i + 2) % 12000)::double / 1000 as expected_purchases,
         (hash(i + 3) % 40)::integer as frequency,
         (hash(i + 4) % 365)::integer as recency_days
  from range(${"n"}) t(i)`;

export const publish = pipeline("publish", { params }, ({ params }) => {
  step("kv", { inputs: { n: params.n }, output: scores }, rows);
});

export const publishRedis = pipeline("publish-redis", { params }, ({ params }) => {
  step("kv", { inputs: { n: params.n }, output: scoresRedis }, rows);
});
