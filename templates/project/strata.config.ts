import { defineProject } from "strata";

// The project: its pipelines live in pipelines/, its runs and tables in .strata/ (git-ignored).
export default defineProject({
  name: "{{name}}",
  pipelines: "pipelines",
  concurrency: 4,
});
