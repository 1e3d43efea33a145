import { defineProject } from "strata";

// bench/fleet.ts sets BENCH_QUEUE=1 for the queue executor (metadata on Postgres, steps on Redis);
// without it the project runs on the embedded defaults.
const queued = process.env.BENCH_QUEUE === "1";
export default defineProject({
  name: "fleet-bench",
  ...(queued
    ? {
        metadata: { technology: "postgres", urlEnv: "BENCH_METADATA_URL", schema: process.env.BENCH_SCHEMA ?? "bench", poolSize: 8 },
        queue: { urlEnv: "BENCH_QUEUE_URL", prefix: process.env.BENCH_PREFIX ?? "bench" },
      }
    : {}),
});
