import { defineProject, storage } from "strata";

export default defineProject({
  name: "cltv",
  // Raw input files live in data/; `warehouse` (DuckDB tables) and `kv` (SQLite key-value) are built in.
  storages: [
    storage("lake", { technology: "files", format: "files", options: { path: "data" } }),
    // What the models service will serve: CLV per customer, published as an atomic new version.
    storage("customer-value", { technology: "sqlite", format: "kv" }),
  ],
  // The Python step needs pandas: Debian's python3 has it (the pyenv python3 on PATH may not).
  interpreters: { python: process.env.STRATA_PYTHON ?? "/usr/bin/python3" },
});
