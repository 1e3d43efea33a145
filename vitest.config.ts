import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // CLI tests spawn processes; two workers match the two cores of our machines.
    maxWorkers: 2,
    allowOnly: !process.env.CI,
  },
});
