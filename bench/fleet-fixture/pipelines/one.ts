import { pipeline, step } from "strata";

/** One step that returns at once: what is measured is Strata's own work per run. */
export default pipeline("one", {}, () => {
  step("noop", () => ({ ok: true }));
});
