import { defineProject, storage } from "strata";

// The Redis kv storage exists only when the benchmark runs with a Redis (bash scripts/with-services.sh
// sets STRATA_TEST_REDIS_URL); its key prefix is the benchmark run's own, so runs never collide.
const prefix = process.env.STRATA_BENCH_REDIS_PREFIX ?? "strata-bench-serving";

export default defineProject({
  name: "serving-bench",
  storages: process.env.STRATA_TEST_REDIS_URL
    ? [storage("serving", { technology: "redis", format: "kv", options: { urlEnv: "STRATA_TEST_REDIS_URL", prefix } })]
    : [],
});
