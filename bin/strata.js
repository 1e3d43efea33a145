#!/usr/bin/env node
// The `strata` command. Kept tiny: the CLI lives in dist/cli (built from src/cli by `npm run build`).
import("../dist/cli/main.js").then(
  (cli) => cli.main(process.argv),
  (error) => {
    if (error && error.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/cli/main.js")) {
      console.error("strata is not built yet: run `npm run build` (or `npm ci`) in the strata package first.");
    } else {
      console.error(error);
    }
    process.exitCode = 1;
  },
);
