import { defineProject } from "strata";

export default defineProject({ name: "cltv", pipelines: "pipelines" });
